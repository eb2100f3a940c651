import { ApiError } from '../common/api-error';
import { base64Bytes } from './base64-size';
import type { MediaDto } from './message.dto';

/**
 * What the DTO cannot say about a message's content: text or media is there, media is a URL or
 * inline bytes (with their mimetype), and inline bytes fit MEDIA_MAX_BYTES (413 otherwise).
 * Shared by outgoing messages and the simulator's incoming ones, which follow the same rules.
 * `at` prefixes messages with where the content sits (`messages[3].`).
 */
export function checkContent(
  content: { text?: string; media?: MediaDto },
  mediaMaxBytes: number,
  at = '',
): void {
  if (!content.text && !content.media) throw ApiError.badRequest(`${at}text or media is required`);
  const m = content.media;
  if (!m) return;
  if (!!m.url === !!m.base64)
    throw ApiError.badRequest(`${at}media needs exactly one of url and base64`);
  if (m.base64 && !m.mimetype)
    throw ApiError.badRequest(`${at}media.mimetype is required with media.base64`);
  // Inline media sits in Redis until the worker takes it: its own cap, the one the worker
  // applies to media it fetches, checked before anything is stored.
  const size = m.base64 ? base64Bytes(m.base64) : 0;
  if (size > mediaMaxBytes) {
    throw new ApiError(
      413,
      'MEDIA_TOO_LARGE',
      `${at}media.base64 decodes to ${size} bytes, more than MEDIA_MAX_BYTES (${mediaMaxBytes})`,
    );
  }
}
