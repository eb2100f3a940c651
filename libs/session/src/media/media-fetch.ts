import { promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { classifyAddress, isAddressAllowed, withTimeout } from '@app/core';
import type { MediaContent } from '@app/queue';
import { SessionDriverError, SessionErrorCode } from '../session.errors';
import { cleanFilename, filenameFromUrl, safeDecode } from './file-name';
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
 * (no second DNS lookup between check and connect, which DNS rebinding would exploit); the Host
 * header and TLS SNI stay the URL's. Redirects are followed (at most {@link MEDIA_MAX_REDIRECTS}),
 * each hop checked like the first.
 */

export interface ResolvedAddress {
  address: string;
  /** 4 or 6; derived from the address when absent. */
  family?: number;
}

export type MediaLookup = (hostname: string) => Promise<ResolvedAddress[]>;

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

/** The host of a URL as a name or a bare IP (without the brackets of IPv6). */
function bareHost(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Resolves the host of `url` and checks every address; returns the checked addresses. */
export async function resolveAllowed(
  url: URL,
  limits: Pick<MediaLimits, 'allowPrivate' | 'lookup'>,
  signal?: AbortSignal,
): Promise<ResolvedAddress[]> {
  const host = bareHost(url);
  let addresses: ResolvedAddress[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    const lookup = limits.lookup ?? systemLookup;
    try {
      addresses = await withTimeout(lookup(host), { signal });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new SessionDriverError(
        SessionErrorCode.MediaUnavailable,
        'retryable',
        `Could not resolve ${host}: ${describeError(err)}`,
      );
    }
  }
  if (!Array.isArray(addresses) || addresses.length === 0) {
    throw new SessionDriverError(
      SessionErrorCode.MediaUnavailable,
      'retryable',
      `${host} resolved to no address`,
    );
  }
  const checked: ResolvedAddress[] = [];
  for (const entry of addresses) {
    const address = entry.address;
    if (!isAddressAllowed(address, limits.allowPrivate)) {
      throw new SessionDriverError(
        MEDIA_URL_FORBIDDEN,
        'permanent',
        `media.url host ${host} resolves to ${address} (${classifyAddress(address)}), which is not allowed`,
      );
    }
    const zoneless = address.split('%')[0];
    checked.push({ address, family: isIP(zoneless) || entry.family });
  }
  return checked;
}

async function systemLookup(hostname: string): Promise<ResolvedAddress[]> {
  return dns.lookup(hostname, { all: true, verbatim: true });
}

/**
 * A `lookup` for net.connect that answers with the addresses already checked: the socket goes
 * where the check said, whatever the DNS says now.
 */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    const asked: unknown = typeof options === 'number' ? options : options?.family;
    const family = asked === 'IPv4' ? 4 : asked === 'IPv6' ? 6 : asked;
    const wanted =
      family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
    if (wanted.length === 0) {
      const err = Object.assign(new Error(`No IPv${String(family)} address for ${hostname}`), {
        code: 'ENOTFOUND',
      });
      callback(err, '', 0);
      return;
    }
    if (typeof options === 'object' && options?.all) {
      const all: LookupAddress[] = wanted.map((a) => ({
        address: a.address,
        family: a.family ?? 4,
      }));
      (callback as (err: null, addresses: LookupAddress[]) => void)(null, all);
    } else {
      callback(null, wanted[0].address, wanted[0].family ?? 4);
    }
  };
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
  const host = bareHost(url);
  const secure = url.protocol === 'https:';
  const options: https.RequestOptions = {
    protocol: url.protocol,
    hostname: host,
    port: url.port || (secure ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    method: 'GET',
    headers: {
      'user-agent': USER_AGENT,
      accept: '*/*',
      'accept-encoding': 'identity',
    },
    // Our own socket each time: no pooled connection to somewhere else, nothing left open.
    agent: false,
    // The socket goes to a checked address; Host and SNI remain the name in the URL.
    lookup: pinnedLookup(addresses),
    signal,
  };
  if (secure && !isIP(host)) options.servername = host;
  if (url.username || url.password) {
    options.auth = `${safeDecode(url.username)}:${safeDecode(url.password)}`;
  }
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
