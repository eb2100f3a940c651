import mime from 'mime';
import { fileTypeFromBuffer } from 'file-type';

/**
 * Types of media: the type a file name's extension stands for (the `mime` package's table), the
 * type a fetched URL is sent as, and what the bytes of inline media really are (`file-type`).
 *
 * `file-type` is an ES module only; our CommonJS build loads it with `require()`, which Node
 * 22.12+ does for ES modules without top-level await (and jest compiles it like @nestjs, see
 * jest.config.js).
 */

/** `type/subtype`, nothing else (no parameters). */
export const MIMETYPE = /^[\w.+-]+\/[\w.+-]+$/;

export const OCTET_STREAM = 'application/octet-stream';

/** Content-Types that say nothing about the content. */
const GENERIC_TYPES = new Set([OCTET_STREAM, 'binary/octet-stream', 'application/binary']);

/**
 * Where `mime` answers with a type WhatsApp does not show as media: WhatsApp takes `video/mp4`
 * (not `video/x-m4v`) as a video and `audio/aac` (not `audio/x-aac`) as audio; `text/vcard` is the
 * registered type of a contact card (`text/x-vcard` is the old one).
 */
const WHATSAPP_TYPES: Record<string, string> = {
  m4v: 'video/mp4',
  aac: 'audio/aac',
  vcf: 'text/vcard',
};

/** The mimetype of a file name's extension, if known. */
export function mimetypeFromName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const dot = name.lastIndexOf('.');
  if (dot < 0 || dot === name.length - 1) return undefined;
  const extension = name.slice(dot + 1).toLowerCase();
  return WHATSAPP_TYPES[extension] ?? mime.getType(extension) ?? undefined;
}

/**
 * The response's Content-Type without parameters, else the type of the first name with a known
 * extension, else application/octet-stream. A generic Content-Type (octet-stream) gives way to a
 * known extension: WhatsApp shows an image as an image only if it is typed as one.
 */
export function pickMimetype(
  contentType: string | undefined,
  names: (string | undefined)[],
): string {
  const fromHeader = contentType?.split(';')[0].trim().toLowerCase();
  const usable = fromHeader && MIMETYPE.test(fromHeader) ? fromHeader : undefined;
  if (usable && !GENERIC_TYPES.has(usable)) return usable;
  for (const name of names) {
    const byName = mimetypeFromName(name);
    if (byName) return byName;
  }
  return usable ?? OCTET_STREAM;
}

/**
 * How WhatsApp shows a message of this type: as a photo, as a player, or as a document. Audio and
 * video are one kind here: their containers (mp4, ogg, webm, 3gp) carry either, and the bytes do
 * not say which the sender meant.
 */
export type MediaKind = 'image' | 'audio/video' | 'document';

export function mediaKind(mimetype: string): MediaKind {
  if (mimetype.startsWith('image/')) return 'image';
  if (
    mimetype.startsWith('audio/') ||
    mimetype.startsWith('video/') ||
    mimetype === 'application/ogg' ||
    mimetype === 'application/mp4'
  ) {
    return 'audio/video';
  }
  return 'document';
}

/** What the bytes are, by their magic numbers; undefined when they match no known format. */
export async function sniffMimetype(bytes: Uint8Array): Promise<string | undefined> {
  return (await fileTypeFromBuffer(bytes))?.mime;
}

/**
 * Why the declared mimetype contradicts the bytes, or undefined when it does not. A contradiction
 * is a different kind (an "image/png" that is a PDF, an "application/pdf" that is a JPEG, a
 * "video/mp4" that is a PNG): WhatsApp would send a photo nobody can open, or a document that is
 * a photo, and the sender would not know. Within a kind, the declared type is kept (a PNG typed
 * image/jpeg shows fine: WhatsApp re-encodes photos). A generic declared type (octet-stream) and
 * bytes of no known format (text, raw data) never contradict; neither do text formats file-type
 * recognises by markup (XML, SVG), which many declared types legitimately hold.
 */
export async function mimetypeContradiction(
  declared: string,
  bytes: Uint8Array,
): Promise<string | undefined> {
  if (GENERIC_TYPES.has(declared)) return undefined;
  const sniffed = await sniffMimetype(bytes);
  if (!sniffed || sniffed.startsWith('text/') || sniffed.endsWith('xml')) return undefined;
  if (mediaKind(sniffed) === mediaKind(declared)) return undefined;
  return `media.mimetype is ${declared} but the content is ${sniffed}`;
}
