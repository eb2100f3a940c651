/*
 * WhatsApp Web's media modules, as far as whatsapp-web.js 1.34.7 reaches them (read
 * node_modules/whatsapp-web.js/src/util/Injected/Utils.js: processMediaData, processStickerData,
 * and structures/Message.js: downloadMedia):
 *
 *   send:     WAWebMediaOpaqueData -> WAWebPrepRawMedia -> WAWebMediaStorage -> WAWebMmsMediaTypes
 *             -> WAWebMediaDataUtils / WAWebMediaInMemoryBlobCache -> WAWebMediaMmsV4Upload
 *             (stickers: WAWebUploadManager + WAWebStartMediaUploadQpl)
 *   download: Msg.mediaData.mediaStage (Msg.downloadMedia resolves it), then
 *             WAWebDownloadManager.downloadManager.downloadAndMaybeDecrypt
 *
 * An "upload" keeps the file in this page by its filehash and gives it a directPath; the `send`
 * RPC then carries the file to the emulator server (the hook __emu.hooks.mediaForSend, which
 * messages.js calls). A message the page does not hold the file of (incoming media, or anything
 * loaded after a reload) has the directPath `/emu/media/<waMessageId>`, the emulator server's
 * media route (src/emulator-media.ts): a download fetches it, checks its filehash, and keeps it.
 *
 * Nothing is encrypted: mediaKey/encFilehash are random values of the right shape, because
 * whatsapp-web.js only carries them around.
 */
(function defineMediaModules() {
  'use strict';

  const emu = window.__emu;

  // ---------------------------------------------------------------- files this page holds

  /** filehash (base64 sha256 of the plain file) -> {blob}: files sent from, or downloaded to, the page. */
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

  /** WhatsApp's filehash: base64 of the SHA-256 of the plain file (as WWebJS.getFileHash). */
  async function filehashOf(blob) {
    const digest = await window.crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
    return bytesToBase64(new Uint8Array(digest));
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

  /** The emulator server's media route (src/emulator-media.ts MEDIA_PATH_PREFIX). */
  const SERVER_MEDIA_PREFIX = '/emu/media/';

  function notFound(what) {
    const err = new Error(`media not found: ${what}`);
    // whatsapp-web.js's downloadMedia turns `status === 404` into undefined (expired media).
    err.status = 404;
    return err;
  }

  /**
   * The file at a directPath: held in the page, or fetched from the emulator server's media
   * route and kept (after checking it is the file the message names, as WhatsApp Web checks the
   * filehash of what it decrypts).
   */
  async function fileAt({ directPath, filehash, mimetype }) {
    const held = heldFileFor({ filehash, directPath });
    if (held) return held;
    if (typeof directPath !== 'string' || !directPath.startsWith(SERVER_MEDIA_PREFIX)) {
      throw notFound(directPath);
    }
    const res = await fetch(`${directPath}?device=${encodeURIComponent(window.__emu.deviceId)}`, {
      cache: 'no-store',
    });
    if (res.status === 404) throw notFound(directPath);
    if (!res.ok) throw new Error(`media download failed: HTTP ${res.status}`);
    const fetched = await res.blob();
    const blob = new Blob([fetched], {
      type: mimetype || fetched.type || 'application/octet-stream',
    });
    const actual = await filehashOf(blob);
    if (filehash && actual !== filehash) {
      throw new Error('media download failed: the file is not the one the message names');
    }
    filehashByDirectPath.set(directPath, actual);
    return holdFile(actual, blob);
  }

  /** WAWebDownloadManager.downloadManager.downloadAndMaybeDecrypt: the plain file. */
  async function downloadAndMaybeDecrypt({ directPath, filehash }) {
    const file = await fileAt({ directPath, filehash });
    return file.blob.arrayBuffer();
  }

  /**
   * Msg.mediaData, for any message with media (a prototype getter: never one of the Msg's
   * serialised attributes). RESOLVED once the page holds the file; INIT before, and
   * Msg.downloadMedia resolves it: FETCHING, then RESOLVED or ERROR_MISSING (what WhatsApp Web
   * shows for expired media; whatsapp-web.js then answers undefined).
   */
  const mediaDataOfMsg = new WeakMap();

  function mediaDataOf(msg) {
    if (!msg.directPath && !msg.filehash) return undefined;
    let data = mediaDataOfMsg.get(msg);
    if (!data) {
      data = new MediaData({
        type: msg.type,
        mimetype: msg.mimetype,
        filehash: msg.filehash,
        size: msg.size,
        filename: msg.filename,
        mediaStage: heldFileFor(msg) ? 'RESOLVED' : 'INIT',
      });
      mediaDataOfMsg.set(msg, data);
    }
    return data;
  }

  /** Msg.downloadMedia(options): fetches the file into the page and resolves mediaData. */
  async function downloadMsgMedia() {
    const data = mediaDataOf(this);
    if (!data || data.mediaStage === 'RESOLVED') return;
    data.set('mediaStage', 'FETCHING');
    try {
      await fileAt(this);
      data.set('mediaStage', 'RESOLVED');
    } catch (err) {
      data.set('mediaStage', err && err.status === 404 ? 'ERROR_MISSING' : 'ERROR_UNKNOWN');
    }
  }

  function installOnMsgModel() {
    const collections = window.require('WAWebCollections');
    const proto = collections && collections.Msg && collections.Msg.modelClass.prototype;
    if (!proto) throw new Error('media.js needs messages.js (WAWebCollections.Msg) loaded first');
    Object.defineProperty(proto, 'mediaData', {
      configurable: true,
      get() {
        return mediaDataOf(this);
      },
      // A Model assigns its attributes: one named mediaData must not throw on a getter-only property.
      set(value) {
        mediaDataOfMsg.set(this, value);
      },
    });
    Object.defineProperty(proto, 'downloadMedia', {
      configurable: true,
      writable: true,
      value: downloadMsgMedia,
    });
  }

  // ---------------------------------------------------------------- the hook for messages.js

  /**
   * `media` of the `send` RPC for a message being sent ({mimetype, filename, size, filehash,
   * base64}), undefined for a message without media. messages.js's addAndSendMsgToChat calls it.
   */
  async function mediaForSend(message) {
    if (!message || !message.filehash || !message.directPath) return undefined;
    const file = await fileAt(message);
    return {
      mimetype: message.mimetype,
      ...(message.filename ? { filename: message.filename } : {}),
      size: message.size,
      filehash: message.filehash,
      base64: await blobToBase64(file.blob),
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
  emu.hooks.mediaForSend = mediaForSend;

  installOnMsgModel();
})();
