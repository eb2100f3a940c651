import type { MediaContent } from '@app/queue';
import { cleanFilename } from './file-name';
import { invalidMedia, mediaTooLarge } from './media-errors';
import { MIMETYPE, mimetypeContradiction } from './media-type';
import type { LoadedMedia } from './load-media';

/** Inline media (`{base64, mimetype}`): decoded, measured against the cap, its type checked. */

const BASE64_BODY = /^[A-Za-z0-9+/_-]*$/;

/** Bytes that a base64 text (without whitespace) decodes to, or null when it is not base64. */
export function base64DecodedSize(text: string): number | null {
  let end = text.length;
  let padding = 0;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */ && padding < 3) {
    end--;
    padding++;
  }
  const body = text.slice(0, end);
  if (padding > 2 || !BASE64_BODY.test(body)) return null;
  // A lone trailing character carries 6 bits, less than a byte: never valid.
  if (body.length % 4 === 1) return null;
  // With padding, the whole text comes in blocks of four.
  if (padding > 0 && text.length % 4 !== 0) return null;
  return Math.floor((body.length * 3) / 4);
}

/**
 * Inline media: checks it decodes, its size, and its mimetype (well formed, and not contradicted
 * by the bytes: see {@link mimetypeContradiction}).
 */
export async function decodeBase64Media(
  media: MediaContent,
  maxBytes: number,
): Promise<LoadedMedia> {
  const declared = media.mimetype?.trim();
  if (!declared) throw invalidMedia('media.mimetype is required with media.base64');
  if (!MIMETYPE.test(declared)) {
    throw invalidMedia(`media.mimetype "${declared}" is not type/subtype`);
  }
  const mimetype = declared.toLowerCase();
  const raw = media.base64 ?? '';
  const text = /\s/.test(raw) ? raw.replace(/\s+/g, '') : raw;
  // The decoded size bounds the text's length: a text far too long is refused before anything
  // else is done with it.
  if (Math.floor((text.length * 3) / 4) - 2 > maxBytes)
    throw mediaTooLarge(maxBytes, 'inline media');
  const size = base64DecodedSize(text);
  if (size === null) throw invalidMedia('media.base64 is not valid base64');
  if (size === 0) throw invalidMedia('media.base64 is empty');
  if (size > maxBytes) throw mediaTooLarge(maxBytes, 'inline media', size);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== size) throw invalidMedia('media.base64 is not valid base64');
  const contradiction = await mimetypeContradiction(mimetype, bytes);
  if (contradiction) throw invalidMedia(contradiction);
  const filename = cleanFilename(media.filename);
  return {
    mimetype,
    // Canonical: base64url or unpadded input becomes what MessageMedia expects.
    data: bytes.toString('base64'),
    ...(filename ? { filename } : {}),
    size,
  };
}
