import type { MediaContent } from '@app/queue';
import { decodeBase64Media } from './inline-media';
import { invalidMedia } from './media-errors';
import { fetchUrlMedia, type MediaLookup } from './media-fetch';

/**
 * Media of a message, turned into what a driver sends (whatsapp-web.js's `MessageMedia` takes
 * exactly this). A message carries media either inline (`{base64, mimetype}`: inline-media.ts) or
 * as a URL the worker fetches at send time (media-fetch.ts). Every driver loads media here, with
 * the same limits, so bad media fails the same way (code and failure class) whichever driver
 * runs the session.
 */

/** Limits of {@link loadMedia}: the worker fills them from its environment. */
export interface MediaLimits {
  /**
   * Largest media, in decoded bytes (`MEDIA_MAX_BYTES`, default 16 MB: WhatsApp's own limit for
   * images, audio and video; documents may go up to 100 MB, raise it for those).
   */
  maxBytes: number;
  /** Bound on the whole fetch of a URL: DNS, connect, redirects, body (`MEDIA_FETCH_TIMEOUT_MS`, default 30000). */
  timeoutMs: number;
  /**
   * Let URLs reach private, loopback, link-local, unique-local and CGNAT addresses
   * (`MEDIA_ALLOW_PRIVATE`, default false). Unspecified, multicast and reserved addresses are
   * refused even then: no media server lives there.
   */
  allowPrivate: boolean;
  /** Resolves a host name to all its addresses (default: the system resolver). Injectable for tests. */
  lookup?: MediaLookup;
}

/** What whatsapp-web.js's `MessageMedia` is built from. */
export interface LoadedMedia {
  mimetype: string;
  /** The content, base64 (standard alphabet, padded). */
  data: string;
  filename?: string;
  /** Decoded size in bytes. */
  size: number;
}

/** The environment defaults of {@link MediaLimits}. */
export const MEDIA_DEFAULTS: Readonly<MediaLimits> = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  timeoutMs: 30000,
  allowPrivate: false,
});

/**
 * Media of a message as `{mimetype, data (base64), filename?}`. Throws a `SessionDriverError`:
 * `permanent` when the media can never be sent (invalid, too large, forbidden URL, 4xx), and
 * `retryable` when it may work later (network error, 5xx, timeout).
 */
export async function loadMedia(
  media: MediaContent,
  opts: Partial<MediaLimits> = {},
): Promise<LoadedMedia> {
  const limits = resolveLimits(opts);
  const hasUrl = typeof media.url === 'string' && media.url !== '';
  const hasBase64 = typeof media.base64 === 'string';
  if (hasUrl === hasBase64) {
    throw invalidMedia('Media needs exactly one of url and base64');
  }
  if (hasBase64) return decodeBase64Media(media, limits.maxBytes);
  return fetchUrlMedia(media, limits);
}

function resolveLimits(opts: Partial<MediaLimits>): MediaLimits {
  const limits: MediaLimits = {
    maxBytes: opts.maxBytes ?? MEDIA_DEFAULTS.maxBytes,
    timeoutMs: opts.timeoutMs ?? MEDIA_DEFAULTS.timeoutMs,
    allowPrivate: opts.allowPrivate ?? MEDIA_DEFAULTS.allowPrivate,
    lookup: opts.lookup,
  };
  if (!(Number.isFinite(limits.maxBytes) && limits.maxBytes > 0)) {
    throw new RangeError(`MediaLimits.maxBytes must be a positive number, got ${limits.maxBytes}`);
  }
  if (!(Number.isFinite(limits.timeoutMs) && limits.timeoutMs > 0)) {
    throw new RangeError(
      `MediaLimits.timeoutMs must be a positive number, got ${limits.timeoutMs}`,
    );
  }
  return limits;
}
