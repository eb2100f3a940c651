import { createHash } from 'node:crypto';

/**
 * The emulator server's side of media: checking the file a page sends (the `send` RPC's `media`)
 * and shaping the file the phone sends in (the `incoming` control route's `media`) for the push.
 * The page keeps the bytes of both (page/media.js), so the server stores no file and needs no
 * download route; the sent log keeps the description only, never the bytes.
 */

/** A file as the sent log records it. */
export interface SentMediaRecord {
  mimetype: string;
  filename: string | null;
  size: number;
  filehash: string;
}

/** The `media` of an `incoming` push: what page/media.js (WAEmuMedia.incomingMsgAttrs) reads. */
export interface IncomingMediaPush {
  mimetype: string;
  filename: string | null;
  caption: string | null;
  size: number;
  filehash: string;
  base64: string;
}

/** A rejected media input; `code` is for the control API's `{error: {code, message}}`. */
export class EmulatorMediaError extends Error {
  constructor(
    readonly code: 'invalid_media',
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorMediaError';
  }
}

/** WhatsApp's filehash: base64 SHA-256 of the plain file. */
export function filehashOf(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeBase64(value: unknown, what: string): Buffer {
  // Buffer.from(…, 'base64') skips what is not base64 instead of failing: check the alphabet.
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value.replace(/\s+/g, ''))) {
    throw new EmulatorMediaError('invalid_media', `${what}.base64 must be a base64 string`);
  }
  const data = Buffer.from(value, 'base64');
  if (data.length === 0) throw new EmulatorMediaError('invalid_media', `${what} is empty`);
  return data;
}

function mimetypeOf(value: unknown, what: string): string {
  if (typeof value !== 'string' || !/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(value)) {
    throw new EmulatorMediaError('invalid_media', `${what}.mimetype must be a mimetype`);
  }
  return value;
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') {
    throw new EmulatorMediaError('invalid_media', `${field} must be a string`);
  }
  return value;
}

/**
 * The sent-log record of the file a page sent, after checking that the bytes are what the page
 * says they are (size and filehash): the page computes both the way whatsapp-web.js does, and a
 * mismatch is an emulator bug that must fail the send loudly rather than enter the sent log.
 */
export function sentMediaRecord(media: unknown): SentMediaRecord {
  if (!isRecord(media))
    throw new EmulatorMediaError('invalid_media', 'send media must be an object');
  const data = decodeBase64(media.base64, 'send media');
  const mimetype = mimetypeOf(media.mimetype, 'send media');
  const filehash = filehashOf(data);
  if (media.size !== data.length) {
    throw new EmulatorMediaError(
      'invalid_media',
      `send media size ${String(media.size)} is not the file's ${data.length} bytes`,
    );
  }
  if (media.filehash !== filehash) {
    throw new EmulatorMediaError('invalid_media', 'send media filehash is not the file sha256');
  }
  return {
    mimetype,
    filename: optionalString(media.filename, 'send media filename'),
    size: data.length,
    filehash,
  };
}

/**
 * The `media` of the `incoming` push for the control route's
 * `media: {mimetype, filename?, base64, caption?}`: the file with its size and filehash, which the
 * page keeps so whatsapp-web.js's downloadMedia() returns these bytes.
 */
export function incomingMediaPush(media: unknown): IncomingMediaPush {
  if (!isRecord(media)) throw new EmulatorMediaError('invalid_media', 'media must be an object');
  const data = decodeBase64(media.base64, 'media');
  return {
    mimetype: mimetypeOf(media.mimetype, 'media'),
    filename: optionalString(media.filename, 'media.filename'),
    caption: optionalString(media.caption, 'media.caption'),
    size: data.length,
    filehash: filehashOf(data),
    base64: data.toString('base64'),
  };
}
