import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { EmulatorError } from './errors';
import { decodePathPart } from './http-util';

/**
 * The emulator server's side of media: the check of a file a page sends (the `send` RPC's
 * `media`), and the emulated media server that gives a page the file of a message it holds
 * (`GET /emu/media/<waMessageId>?device=<id>`: the `directPath` of the message's page view; page/
 * media.js fetches it when whatsapp-web.js's downloadMedia() asks for a file the page does not
 * hold). The bytes themselves live in the message records (accounts.ts).
 */

/** Where the page fetches a message's file (the directPath the page view of a message carries). */
export const MEDIA_PATH_PREFIX = '/emu/media/';

/** The page path of a message's file. */
export function mediaPathOf(waMessageId: string): string {
  return `${MEDIA_PATH_PREFIX}${encodeURIComponent(waMessageId)}`;
}

/** A file as a page sends it, checked. */
export interface SentMedia {
  mimetype: string;
  filename?: string;
  size: number;
  /** base64 sha256 of the file. */
  filehash: string;
  base64: string;
}

/** What the download route reads from the server's state (EmulatorState fits). */
export interface MediaSource {
  message(
    waMessageId: string,
  ): { phone: string; media?: { mimetype: string; base64?: string } } | undefined;
  listDevices(): { deviceId: string; phone: string | null }[];
}

/** A rejected media input; answered as `{error: {code, message}}`. */
export class EmulatorMediaError extends EmulatorError {
  constructor(message: string) {
    super(400, 'invalid_media', message);
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

/**
 * The file a page sent, after checking that the bytes are what the page says they are (size
 * and filehash, which page/media.js computes as WhatsApp Web does): a mismatch is an emulator
 * bug, and it must fail the send loudly rather than enter the sent log.
 */
export function checkedSendMedia(media: unknown): SentMedia {
  if (!isRecord(media)) throw new EmulatorMediaError('send media must be an object');
  const { base64, mimetype, filename, size, filehash } = media;
  // Buffer.from(…, 'base64') skips what is not base64 instead of failing: check the alphabet.
  if (typeof base64 !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
    throw new EmulatorMediaError('send media.base64 must be a non-empty base64 string');
  }
  if (typeof mimetype !== 'string' || !/^[\w.+-]+\/[\w.+-]+/.test(mimetype)) {
    throw new EmulatorMediaError('send media.mimetype must be a mimetype');
  }
  if (filename !== undefined && filename !== null && typeof filename !== 'string') {
    throw new EmulatorMediaError('send media.filename must be a string');
  }
  const data = Buffer.from(base64, 'base64');
  if (size !== data.length) {
    throw new EmulatorMediaError(
      `send media.size ${String(size)} is not the file's ${data.length} bytes`,
    );
  }
  if (filehash !== filehashOf(data)) {
    throw new EmulatorMediaError('send media.filehash is not the sha256 of the file');
  }
  return {
    mimetype,
    ...(typeof filename === 'string' && filename ? { filename } : {}),
    size: data.length,
    filehash,
    base64,
  };
}

/**
 * `GET /emu/media/<waMessageId>?device=<id>`: the file of a message of the device's account, as
 * WhatsApp's media server gives it (plain here: nothing is encrypted). 404 for an unknown
 * message, a message without a kept file, or another account's message.
 */
export function serveMedia(state: MediaSource, url: URL, res: ServerResponse): void {
  const waMessageId = decodePathPart(url.pathname.slice(MEDIA_PATH_PREFIX.length));
  const deviceId = url.searchParams.get('device');
  const record = state.message(waMessageId);
  const phone = state.listDevices().find((d) => d.deviceId === deviceId)?.phone;
  const base64 = record?.media?.base64;
  if (!record || !base64 || !phone || record.phone !== phone) {
    res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end('media not found');
    return;
  }
  const data = Buffer.from(base64, 'base64');
  res.writeHead(200, {
    'content-type': record.media?.mimetype ?? 'application/octet-stream',
    'content-length': data.length,
    'cache-control': 'no-store',
  });
  res.end(data);
}
