import * as http from 'node:http';
import * as https from 'node:https';
import {
  AddressRefusedError,
  HostUnresolvedError,
  pinnedRequestOptions,
  resolveCheckedAddresses,
  type HostLookup,
  type ResolvedAddress,
} from '@app/core';
import type { MediaContent } from '@app/queue';
import { SessionDriverError, SessionErrorCode } from '../session.errors';
import { cleanFilename, filenameFromUrl } from './file-name';
import type { LoadedMedia, MediaLimits } from './load-media';
import { describeError, invalidMedia, MEDIA_URL_FORBIDDEN, mediaTooLarge } from './media-errors';
import { pickMimetype } from './media-type';

/**
 * Media fetched from `media.url`, at send time, with a size cap, a timeout, and an SSRF guard.
 *
 * Fetching a URL someone else chose is a server-side request forgery risk: the URL (or a
 * redirect, or a DNS answer) could point at Redis, a cloud metadata service or anything else on
 * the worker's network. So every hop is resolved once, EVERY address it resolves to is checked
 * (the address policy of `@app/core`), and the connection goes to one of those checked addresses
 * (`pinnedLookup`, shared with webhook delivery: no second DNS lookup between check and connect,
 * which DNS rebinding would exploit); the Host header and TLS SNI stay the URL's. Redirects are followed (at most {@link MEDIA_MAX_REDIRECTS}),
 * each hop checked like the first.
 */

export type { ResolvedAddress };
/** How the media loader resolves host names (the system resolver, or a test's). */
export type MediaLookup = HostLookup;

/** Redirects followed for one URL (each hop is checked like the first). */
export const MEDIA_MAX_REDIRECTS = 3;

const USER_AGENT = 'wa-gateway-media/1.0';

/** The URL of media (or of a redirect), if it is one the worker may fetch at all. */
export function parseMediaUrl(raw: string, what = 'media.url'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidMedia(`${what} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidMedia(`${what} must be http: or https:, not ${url.protocol}`);
  }
  if (!url.hostname) throw invalidMedia(`${what} has no host`);
  return url;
}

/** Resolves the host of `url` and checks every address (shared policy and pinning, @app/core). */
export async function resolveAllowed(
  url: URL,
  limits: Pick<MediaLimits, 'allowPrivate' | 'lookup'>,
  signal?: AbortSignal,
): Promise<ResolvedAddress[]> {
  try {
    return await resolveCheckedAddresses(url, { ...limits, signal });
  } catch (err) {
    if (err instanceof AddressRefusedError) {
      throw new SessionDriverError(
        MEDIA_URL_FORBIDDEN,
        'permanent',
        `media.url host ${err.host} resolves to ${err.address} (${err.addressClass}), which is not allowed`,
      );
    }
    if (err instanceof HostUnresolvedError) {
      throw new SessionDriverError(
        SessionErrorCode.MediaUnavailable,
        'retryable',
        err.cause === undefined
          ? err.message
          : `Could not resolve ${err.host}: ${describeError(err.cause)}`,
      );
    }
    throw err;
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function fetchUrlMedia(
  media: MediaContent,
  limits: MediaLimits,
): Promise<LoadedMedia> {
  const first = parseMediaUrl(media.url ?? '');
  const controller = new AbortController();
  const { signal } = controller;
  // (setTimeout fires at once beyond 2^31-1 ms.)
  const timer = setTimeout(() => controller.abort(), Math.min(limits.timeoutMs, 2 ** 31 - 1));
  const inFlight = new Set<http.ClientRequest>();
  try {
    let url = first;
    for (let hop = 0; ; hop++) {
      const addresses = await resolveAllowed(url, limits, signal);
      const { req, res } = await request(url, addresses, signal, inFlight);
      const status = res.statusCode ?? 0;
      if (REDIRECTS.has(status)) {
        const location = res.headers.location;
        req.destroy();
        if (hop >= MEDIA_MAX_REDIRECTS) {
          throw new SessionDriverError(
            SessionErrorCode.MediaUnavailable,
            'permanent',
            `media.url redirected more than ${MEDIA_MAX_REDIRECTS} times`,
          );
        }
        if (!location) {
          throw new SessionDriverError(
            SessionErrorCode.MediaUnavailable,
            'permanent',
            `media.url answered ${status} without a Location`,
          );
        }
        let next: string;
        try {
          next = new URL(location, url).href;
        } catch {
          throw invalidMedia(`media.url redirected to an invalid URL`);
        }
        url = parseMediaUrl(next, 'media.url redirect');
        continue;
      }
      if (status < 200 || status > 299) {
        req.destroy();
        throw statusError(status, url);
      }
      const body = await readBody(req, res, limits.maxBytes);
      if (body.length === 0) throw invalidMedia('media.url answered an empty body');
      // Names: the message's, else the URL that served the content, else the one first asked.
      const fromUrl = filenameFromUrl(url) ?? filenameFromUrl(first);
      const filename = cleanFilename(media.filename) ?? fromUrl;
      const mimetype =
        media.mimetype?.trim().toLowerCase() ||
        pickMimetype(res.headers['content-type'], [
          media.filename,
          fromUrl,
          filenameFromUrl(first),
        ]);
      return {
        mimetype,
        data: body.toString('base64'),
        ...(filename ? { filename } : {}),
        size: body.length,
      };
    }
  } catch (err) {
    if (signal.aborted) {
      throw new SessionDriverError(
        SessionErrorCode.MediaUnavailable,
        'retryable',
        `Fetching media.url took longer than ${limits.timeoutMs} ms`,
      );
    }
    if (err instanceof SessionDriverError) throw err;
    throw new SessionDriverError(
      SessionErrorCode.MediaUnavailable,
      'retryable',
      `Fetching media.url failed: ${describeError(err)}`,
    );
  } finally {
    clearTimeout(timer);
    for (const req of inFlight) req.destroy();
  }
}

function statusError(status: number, url: URL): SessionDriverError {
  const where = `${url.origin}${url.pathname}`;
  if (status === 404 || status === 410) {
    return new SessionDriverError(
      SessionErrorCode.MediaUnavailable,
      'permanent',
      `media.url ${where} answered ${status}: the media is gone`,
    );
  }
  // 408 and 429 say "later", not "never".
  if (status === 408 || status === 429 || status >= 500) {
    return new SessionDriverError(
      SessionErrorCode.MediaUnavailable,
      'retryable',
      `media.url ${where} answered ${status}`,
    );
  }
  return new SessionDriverError(
    SessionErrorCode.MediaUnavailable,
    'permanent',
    `media.url ${where} answered ${status}`,
  );
}

/** One GET to the checked addresses of `url`; resolves with the response's head. */
function request(
  url: URL,
  addresses: ResolvedAddress[],
  signal: AbortSignal,
  inFlight: Set<http.ClientRequest>,
): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
  const secure = url.protocol === 'https:';
  const options: https.RequestOptions = {
    ...pinnedRequestOptions(url, addresses, signal),
    method: 'GET',
    headers: {
      'user-agent': USER_AGENT,
      accept: '*/*',
      'accept-encoding': 'identity',
    },
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(options);
    inFlight.add(req);
    req.on('close', () => inFlight.delete(req));
    // Errors after the response arrived are the body's (readBody): never unhandled.
    req.on('error', reject);
    req.once('response', (res) => {
      // Destroying a response before its end reports 'aborted' errors: readBody listens for
      // them when it matters, this keeps them from being unhandled otherwise.
      res.on('error', () => undefined);
      resolve({ req, res });
    });
    req.end();
  });
}

/** The body, streamed: stops reading as soon as it is larger than `maxBytes`. */
function readBody(
  req: http.ClientRequest,
  res: http.IncomingMessage,
  maxBytes: number,
): Promise<Buffer> {
  const declared = res.headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
    req.destroy();
    return Promise.reject(mediaTooLarge(maxBytes, 'media.url', Number(declared)));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    res.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > maxBytes) {
        fail(mediaTooLarge(maxBytes, 'media.url'));
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => {
      if (settled) return;
      if (!res.complete) {
        fail(new Error('the connection closed before the whole body arrived'));
        return;
      }
      settled = true;
      resolve(Buffer.concat(chunks, size));
    });
    res.on('error', fail);
    res.on('close', () => fail(new Error('the connection closed before the whole body arrived')));
  });
}
