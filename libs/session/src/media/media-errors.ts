import { SessionDriverError, SessionErrorCode } from '../session.errors';

/**
 * The errors media loading throws, the same on every driver: a bad media is `permanent`
 * (INVALID_MEDIA, MEDIA_TOO_LARGE, MEDIA_URL_FORBIDDEN), a media server that may answer later is
 * `retryable` (MEDIA_UNAVAILABLE).
 */

/** A URL (or a redirect, or a DNS answer) that leads somewhere the worker must not fetch. */
export const MEDIA_URL_FORBIDDEN = 'MEDIA_URL_FORBIDDEN';

export function invalidMedia(message: string): SessionDriverError {
  return new SessionDriverError(SessionErrorCode.InvalidMedia, 'permanent', message);
}

export function mediaTooLarge(maxBytes: number, what: string, size?: number): SessionDriverError {
  const seen = size === undefined ? 'more than that' : `${size} bytes`;
  return new SessionDriverError(
    SessionErrorCode.MediaTooLarge,
    'permanent',
    `${what} is larger than the limit of ${maxBytes} bytes (${seen})`,
  );
}

/** An error's text with its errno code (`ECONNREFUSED connect …`), for messages to a person. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}
