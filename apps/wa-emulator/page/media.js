/*
 * WhatsApp Web's media modules, as far as whatsapp-web.js 1.34.7 reaches them (read
 * node_modules/whatsapp-web.js/src/util/Injected/Utils.js: processMediaData, processStickerData,
 * and structures/Message.js: downloadMedia):
 *
 *   send:     WAWebMediaOpaqueData -> WAWebPrepRawMedia -> WAWebMediaStorage -> WAWebMmsMediaTypes
 *             -> WAWebMediaDataUtils / WAWebMediaInMemoryBlobCache -> WAWebMediaMmsV4Upload
 *             (stickers: WAWebUploadManager + WAWebStartMediaUploadQpl)
 *   download: Msg.mediaData.mediaStage, then WAWebDownloadManager.downloadManager.downloadAndMaybeDecrypt
 *
 * There is no media server: an "upload" keeps the file in this page (by its filehash) and gives it
 * a directPath; the `send` RPC then carries the file to the emulator server (see mediaSendFields).
 * Incoming media arrives whole in the `incoming` push and is kept the same way (incomingMsgAttrs),
 * so a download is answered from the page and the server needs no download route.
 *
 * Nothing is encrypted: mediaKey/encFilehash are random values of the right shape, because
 * whatsapp-web.js only carries them around.
 *
 * Emulator-only hooks for page/messages.js live in the module 'WAEmuMedia' (a name WhatsApp Web
 * does not use).
 */
(function defineMediaModules() {
  'use strict';

  const emu = window.__emu;

  // ---------------------------------------------------------------- files this page holds

  /** filehash (base64 sha256 of the plain file) -> {blob: Blob}; the page's "media server". */
  const heldFiles = new Map();
  /** directPath -> filehash, for downloads asked by path. */
  const filehashByDirectPath = new Map();

  function holdFile(filehash, blob) {
    if (!heldFiles.has(filehash)) heldFiles.set(filehash, { blob });
    return heldFiles.get(filehash);
  }

  function heldFileFor({ filehash, directPath }) {
    const hash = filehash || (directPath && filehashByDirectPath.get(directPath));
    return (hash && heldFiles.get(hash)) || null;
  }

  // ---------------------------------------------------------------- bytes and hashes

  function randomBase64(length) {
    return bytesToBase64(window.crypto.getRandomValues(new Uint8Array(length)));
  }

  function bytesToBase64(bytes) {
    let binary = '';
    // Chunks: String.fromCharCode(...all) overflows the call stack for files of a few hundred KB.
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return window.btoa(binary);
  }

  function base64ToBytes(base64) {
    const binary = window.atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  /** WhatsApp's filehash: base64 of the SHA-256 of the plain file (as WWebJS.getFileHash). */
  async function filehashOf(blob) {
    const digest = await window.crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
    return bytesToBase64(new Uint8Array(digest));
  }

  /**
   * Synchronous SHA-256 (FIPS 180-4), for the `incoming` push: messages.js builds the Msg in the
   * push handler, and crypto.subtle only answers asynchronously.
   */
  const SHA256_K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  function sha256Base64Sync(bytes) {
    const bitLength = bytes.length * 8;
    const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[bytes.length] = 0x80;
    const tail = new DataView(padded.buffer, padded.length - 8);
    tail.setUint32(0, Math.floor(bitLength / 0x100000000));
    tail.setUint32(4, bitLength >>> 0);
    const h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
      0x5be0cd19,
    ]);
    const w = new Uint32Array(64);
    const view = new DataView(padded.buffer);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let offset = 0; offset < padded.length; offset += 64) {
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 =
          (hh +
            (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
            ((e & f) ^ (~e & g)) +
            SHA256_K[i] +
            w[i]) |
          0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) | 0;
      }
      h[0] += a;
      h[1] += b;
      h[2] += c;
      h[3] += d;
      h[4] += e;
      h[5] += f;
      h[6] += g;
      h[7] += hh;
    }
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setUint32(i * 4, h[i]);
    return bytesToBase64(out);
  }

  function blobToBase64(blob) {
    // FileReader, as WWebJS.arrayBufferToBase64Async: no string built byte by byte.
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(',')[1] || '');
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
  }

  // ---------------------------------------------------------------- media types

  /** Photos WhatsApp sends as photos; any other image leaves as a document. */
  const PHOTO_MIMETYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif']);

  /** The Msg type WhatsApp Web gives a file (WAWebPrepRawMedia's choice). */
  function msgTypeFor(mimetype, params) {
    const { asSticker, isPtt, asDocument } = params || {};
    const mime = String(mimetype || '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (asSticker) return 'sticker';
    if (asDocument) return 'document';
    if (PHOTO_MIMETYPES.has(mime)) return 'image';
    // A GIF sent as a clip is still a video (isGif marks it).
    if (mime.startsWith('video/')) return 'video';
    if (mime.startsWith('audio/')) return isPtt ? 'ptt' : 'audio';
    return 'document';
  }

  const MEDIA_TYPES = Object.freeze({
    IMAGE: 'image',
    VIDEO: 'video',
    GIF: 'gif',
    AUDIO: 'audio',
    PTT: 'ptt',
    DOCUMENT: 'document',
    STICKER: 'sticker',
  });

  // ---------------------------------------------------------------- WAWebMediaOpaqueData

  /**
   * A file WhatsApp Web holds (a Blob, a lazily made object URL). Its internals are not
   * enumerable: whatsapp-web.js spreads media data into the Msg, which is later serialised.
   */
  class OpaqueData {
    constructor(blob, filename) {
      Object.defineProperties(this, {
        _blob: { value: blob },
        _filename: { value: filename },
        _url: { value: null, writable: true },
        _released: { value: false, writable: true },
      });
    }

    static async createFromData(data, mimetype) {
      const type = mimetype || (data && data.type) || 'application/octet-stream';
      const blob = data instanceof Blob && data.type === type ? data : new Blob([data], { type });
      return new OpaqueData(blob, data && typeof data.name === 'string' ? data.name : undefined);
    }

    get type() {
      return this._blob.type;
    }

    get size() {
      return this._blob.size;
    }

    url() {
      if (!this._url) this._url = URL.createObjectURL(this._blob);
      return this._url;
    }

    /** What an upload posts: the file itself. */
    formData() {
      return this._blob;
    }

    arrayBuffer() {
      return this._blob.arrayBuffer();
    }

    /**
     * WhatsApp Web frees the object URL once nothing renders it; this page renders nothing, and
     * the URL stays valid for the page's life (the file is held by hash anyway).
     */
    autorelease() {
      return this;
    }

    retain() {
      return this;
    }

    release() {
      this._released = true;
    }
  }

  // ---------------------------------------------------------------- MediaData (prep result)

  const blobOfMediaData = new WeakMap();

  /**
   * WhatsApp Web's MediaData model: attributes are own enumerable properties (whatsapp-web.js
   * spreads it into the message: `...mediaOptions, ...mediaOptions.toJSON()`); `mediaBlob` is an
   * accessor on the prototype so neither spread copies the file into the Msg.
   */
  class MediaData {
    constructor(attrs) {
      Object.assign(this, attrs);
    }

    set(keyOrAttrs, value) {
      if (typeof keyOrAttrs === 'string') this[keyOrAttrs] = value;
      else Object.assign(this, keyOrAttrs);
      return this;
    }

    get(key) {
      return this[key];
    }

    toJSON() {
      return Object.assign({}, this);
    }
  }
  Object.defineProperty(MediaData.prototype, 'mediaBlob', {
    get() {
      return blobOfMediaData.get(this);
    },
    set(blob) {
      blobOfMediaData.set(this, blob);
    },
  });

  // ---------------------------------------------------------------- WAWebPrepRawMedia

  function prepRawMedia(opaqueData, params) {
    const prepared = (async () => {
      const blob = opaqueData.formData();
      const filehash = await filehashOf(blob);
      holdFile(filehash, blob);
      const type = msgTypeFor(opaqueData.type, params);
      const data = new MediaData({
        type,
        mimetype: opaqueData.type,
        filehash,
        size: blob.size,
        filename: opaqueData._filename,
        isGif: Boolean(params && params.asGif && type === 'video'),
      });
      data.mediaBlob = opaqueData;
      return data;
    })();
    return { waitForPrep: () => prepared };
  }

  // ---------------------------------------------------------------- WAWebMediaStorage

  class MediaObject {
    constructor(filehash) {
      this.filehash = filehash;
      this.type = undefined;
      this.size = undefined;
      this.mimetype = undefined;
      // An audio file's waveform, once one was drawn (processMediaData reads it for voice notes).
      this.contentInfo = { waveform: undefined };
      this.mediaStage = 'INIT';
    }

    consolidate(json) {
      for (const key of ['type', 'size', 'mimetype', 'filename', 'isGif', 'renderableUrl']) {
        if (json[key] !== undefined) this[key] = json[key];
      }
      if (json.waveform) this.contentInfo.waveform = json.waveform;
      this.mediaStage = 'RESOLVED';
      return this;
    }
  }

  const mediaObjects = new Map();

  function getOrCreateMediaObject(filehash) {
    if (!mediaObjects.has(filehash)) mediaObjects.set(filehash, new MediaObject(filehash));
    return mediaObjects.get(filehash);
  }

  // ---------------------------------------------------------------- uploads

  let directPathSeq = 0;

  /** A media-server path of WhatsApp's shape for a held file. */
  function newDirectPath(filehash) {
    directPathSeq += 1;
    const name = `${Date.now()}${String(directPathSeq).padStart(6, '0')}`;
    const path = `/v/t62.7119-24/${name}_n.enc?ccb=11-4&oh=emu&oe=${Date.now().toString(16)}`;
    filehashByDirectPath.set(path, filehash);
    return path;
  }

  function mediaEntryFor(filehash, mediaKey) {
    const directPath = newDirectPath(filehash);
    return {
      mmsUrl: `https://mmg.whatsapp.net${directPath}`,
      deprecatedMms3Url: `https://mmg.whatsapp.net${directPath}`,
      directPath,
      mediaKey: mediaKey || randomBase64(32),
      mediaKeyTimestamp: Math.floor(Date.now() / 1000),
      encFilehash: randomBase64(32),
      uploadHash: randomBase64(32),
      sidecar: undefined,
      firstFrameSidecar: undefined,
      handle: null,
    };
  }

  /** WAWebMediaMmsV4Upload.uploadMedia: the file is already held (prepRawMedia kept it). */
  async function uploadMedia({ mediaObject }) {
    if (!mediaObject || !heldFiles.has(mediaObject.filehash)) {
      throw new Error('upload failed: the file was not prepared in this page');
    }
    return { mediaEntry: mediaEntryFor(mediaObject.filehash) };
  }

  /** WAWebUploadManager.encryptAndUpload (stickers): holds the file, answers like an upload. */
  async function encryptAndUpload({ blob, mediaKey }) {
    const filehash = await filehashOf(blob);
    holdFile(filehash, blob);
    const entry = mediaEntryFor(filehash, mediaKey);
    return {
      url: entry.mmsUrl,
      directPath: entry.directPath,
      mediaKey: entry.mediaKey,
      mediaKeyTimestamp: entry.mediaKeyTimestamp,
      encFilehash: entry.encFilehash,
      filehash,
      mimetype: blob.type || 'image/webp',
    };
  }

  /** A QPL (performance logger) that records nothing. */
  function noopQpl() {
    const qpl = {
      addAnnotations: () => qpl,
      addPoint: () => qpl,
      end: () => qpl,
      endSuccess: () => qpl,
      endFail: () => qpl,
    };
    return qpl;
  }

  // ---------------------------------------------------------------- downloads

  /**
   * WAWebDownloadManager.downloadManager.downloadAndMaybeDecrypt: the plain file as an
   * ArrayBuffer, or a 404-like error (whatsapp-web.js turns `status === 404` into undefined).
   */
  async function downloadAndMaybeDecrypt({ directPath, filehash }) {
    const held = heldFileFor({ filehash, directPath });
    if (!held) {
      const err = new Error('media not found');
      err.status = 404;
      throw err;
    }
    return held.blob.arrayBuffer();
  }

  /**
   * Msg.mediaData for any message with media: RESOLVED when this page holds the file, else
   * ERROR_MISSING (what WhatsApp Web shows for expired media; whatsapp-web.js answers undefined).
   * A prototype getter, so it is never part of the Msg's serialised attributes.
   */
  function mediaDataOf(msg) {
    if (!msg.directPath && !msg.filehash) return undefined;
    const held = heldFileFor(msg);
    return new MediaData({
      type: msg.type,
      mimetype: msg.mimetype,
      filehash: msg.filehash,
      size: msg.size,
      filename: msg.filename,
      mediaStage: held ? 'RESOLVED' : 'ERROR_MISSING',
    });
  }

  function installMediaDataOnMsgModel() {
    const collections = window.require('WAWebCollections');
    const Msg = collections && collections.Msg;
    const proto = Msg && Msg.modelClass && Msg.modelClass.prototype;
    if (!proto || Object.prototype.hasOwnProperty.call(proto, 'mediaData')) return;
    Object.defineProperty(proto, 'mediaData', {
      configurable: true,
      get() {
        return mediaDataOf(this);
      },
    });
  }

  // ---------------------------------------------------------------- hooks for messages.js

  /**
   * What the `send` RPC carries for a media message: the caption as body and the file, or null
   * for a message without media. messages.js spreads it into the RPC params.
   */
  async function mediaSendFields(msg) {
    if (!msg || !msg.filehash || !msg.directPath) return null;
    const held = heldFileFor(msg);
    if (!held) throw new Error(`media-fault: the file of ${msg.filehash} is not in this page`);
    return {
      type: msg.type,
      body: typeof msg.caption === 'string' ? msg.caption : '',
      media: {
        mimetype: msg.mimetype,
        filename: msg.filename,
        size: msg.size,
        filehash: msg.filehash,
        base64: await blobToBase64(held.blob),
      },
    };
  }

  /**
   * The Msg attributes of an incoming media message, from the push's
   * `media: {mimetype, filename?, base64, caption?, size?, filehash?}`. The file is kept here (the
   * attributes never hold it) and gets a directPath, so whatsapp-web.js sees `hasMedia` and
   * downloadMedia() returns the same bytes. Returns {} for a push without media.
   */
  function incomingMsgAttrs(pushedMsg) {
    const media = pushedMsg && pushedMsg.media;
    if (!media || typeof media.base64 !== 'string') return {};
    const mimetype = media.mimetype || 'application/octet-stream';
    const bytes = base64ToBytes(media.base64);
    const filehash = media.filehash || sha256Base64Sync(bytes);
    holdFile(filehash, new Blob([bytes], { type: mimetype }));
    const entry = mediaEntryFor(filehash);
    const caption = media.caption || undefined;
    return {
      type: msgTypeFor(mimetype),
      // WhatsApp Web's body of a media message is its preview (none here); the caption is apart.
      body: '',
      caption,
      mimetype,
      filename: media.filename || undefined,
      size: bytes.length,
      filehash,
      directPath: entry.directPath,
      clientUrl: entry.mmsUrl,
      deprecatedMms3Url: entry.deprecatedMms3Url,
      mediaKey: entry.mediaKey,
      mediaKeyTimestamp: entry.mediaKeyTimestamp,
      encFilehash: entry.encFilehash,
    };
  }

  // ---------------------------------------------------------------- registration

  emu.define('WAWebMediaOpaqueData', OpaqueData);
  emu.define('WAWebPrepRawMedia', { prepRawMedia });
  emu.define('WAWebMediaStorage', { getOrCreateMediaObject });
  emu.define('WAWebMmsMediaTypes', {
    MEDIA_TYPES,
    msgToMediaType({ type, isGif }) {
      if (type === 'video' && isGif) return MEDIA_TYPES.GIF;
      return Object.values(MEDIA_TYPES).includes(type) ? type : MEDIA_TYPES.DOCUMENT;
    },
    castToV4: (mediaType) => mediaType,
  });
  emu.define('WAWebMediaDataUtils', {
    // Pictures and clips are kept in memory to render them at once; documents and audio are not.
    shouldUseMediaCache: (mediaType) =>
      [MEDIA_TYPES.IMAGE, MEDIA_TYPES.STICKER, MEDIA_TYPES.GIF, MEDIA_TYPES.VIDEO].includes(
        mediaType,
      ),
  });
  const blobCache = new Map();
  emu.define('WAWebMediaInMemoryBlobCache', {
    InMemoryMediaBlobCache: {
      put: (filehash, blob) => void blobCache.set(filehash, blob),
      get: (filehash) => blobCache.get(filehash),
      has: (filehash) => blobCache.has(filehash),
      delete: (filehash) => blobCache.delete(filehash),
    },
  });
  emu.define('WAWebMediaMmsV4Upload', {
    uploadMedia,
    // Channels upload unencrypted; the emulator encrypts nothing either way.
    uploadUnencryptedMedia: uploadMedia,
  });
  emu.define('WAWebUploadManager', { encryptAndUpload });
  emu.define('WAWebStartMediaUploadQpl', { startMediaUploadQpl: noopQpl });
  emu.define('WAMediaCalculateFilehash', {
    calculateFilehash: filehashOf,
    getRandomFilehash: () => randomBase64(32),
  });
  emu.define('WAWebDownloadManager', { downloadManager: { downloadAndMaybeDecrypt } });
  emu.define('WAEmuMedia', {
    mediaSendFields,
    incomingMsgAttrs,
    heldFileCount: () => heldFiles.size,
  });

  installMediaDataOnMsgModel();
})();
