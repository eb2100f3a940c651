import { promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { classifyAddress, isAddressAllowed, parseIPv6, type AddressClass } from '@app/core';
import type { MediaContent } from '@app/queue';
import { SessionDriverError, SessionErrorCode } from '../../session.errors';

/**
 * Media of a message, turned into what whatsapp-web.js's `MessageMedia` takes. A message carries
 * media either inline (`{base64, mimetype}`) or as a URL the worker fetches here, at send time.
 *
 * Fetching a URL someone else chose is a server-side request forgery risk: the URL (or a
 * redirect, or a DNS answer) could point at Redis, a cloud metadata service or anything else on
 * the worker's network. So every hop is resolved once, EVERY address it resolves to is checked,
 * and the connection goes to one of those checked addresses (no second DNS lookup between check
 * and connect, which DNS rebinding would exploit); the Host header and TLS SNI stay the URL's.
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

export interface ResolvedAddress {
  address: string;
  /** 4 or 6; derived from the address when absent. */
  family?: number;
}

export type MediaLookup = (hostname: string) => Promise<ResolvedAddress[]>;

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

/** Redirects followed for one URL (each hop is checked like the first). */
export const MEDIA_MAX_REDIRECTS = 3;

/** A URL (or a redirect, or a DNS answer) that leads somewhere the worker must not fetch. */
export const MEDIA_URL_FORBIDDEN = 'MEDIA_URL_FORBIDDEN';

const USER_AGENT = 'wa-gateway-media/1.0';

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/**
 * Media of a message as `{mimetype, data (base64), filename?}`. Throws a {@link SessionDriverError}:
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
    throw invalid('Media needs exactly one of url and base64');
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

// ---------------------------------------------------------------------------------------------
// Inline base64
// ---------------------------------------------------------------------------------------------

const BASE64_BODY = /^[A-Za-z0-9+/_-]*$/;
const MIMETYPE = /^[\w.+-]+\/[\w.+-]+$/;

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

/** Inline media: checks it decodes, its size, and its mimetype. */
export function decodeBase64Media(media: MediaContent, maxBytes: number): LoadedMedia {
  const mimetype = media.mimetype?.trim();
  if (!mimetype) throw invalid('media.mimetype is required with media.base64');
  if (!MIMETYPE.test(mimetype)) throw invalid(`media.mimetype "${mimetype}" is not type/subtype`);
  const raw = media.base64 ?? '';
  const text = /\s/.test(raw) ? raw.replace(/\s+/g, '') : raw;
  // The decoded size bounds the text's length: a text far too long is refused before anything
  // else is done with it.
  if (Math.floor((text.length * 3) / 4) - 2 > maxBytes) throw tooLarge(maxBytes, 'inline media');
  const size = base64DecodedSize(text);
  if (size === null) throw invalid('media.base64 is not valid base64');
  if (size === 0) throw invalid('media.base64 is empty');
  if (size > maxBytes) throw tooLarge(maxBytes, 'inline media', size);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== size) throw invalid('media.base64 is not valid base64');
  const filename = cleanFilename(media.filename);
  return {
    mimetype: mimetype.toLowerCase(),
    // Canonical: base64url or unpadded input becomes what MessageMedia expects.
    data: bytes.toString('base64'),
    ...(filename ? { filename } : {}),
    size,
  };
}

// ---------------------------------------------------------------------------------------------
// Address classification: the shared policy (also used for webhook URLs), re-exported here for
// the callers and specs that know it from this module.
// ---------------------------------------------------------------------------------------------

export { classifyAddress, isAddressAllowed, parseIPv6, type AddressClass };

// ---------------------------------------------------------------------------------------------
// URL fetch
// ---------------------------------------------------------------------------------------------

/** The URL of media (or of a redirect), if it is one the worker may fetch at all. */
export function parseMediaUrl(raw: string, what = 'media.url'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`${what} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`${what} must be http: or https:, not ${url.protocol}`);
  }
  if (!url.hostname) throw invalid(`${what} has no host`);
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
      addresses = await abortable(lookup(host), signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new SessionDriverError(
        SessionErrorCode.MediaUnavailable,
        'retryable',
        `Could not resolve ${host}: ${describe(err)}`,
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

async function fetchUrlMedia(media: MediaContent, limits: MediaLimits): Promise<LoadedMedia> {
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
          throw invalid(`media.url redirected to an invalid URL`);
        }
        url = parseMediaUrl(next, 'media.url redirect');
        continue;
      }
      if (status < 200 || status > 299) {
        req.destroy();
        throw statusError(status, url);
      }
      const body = await readBody(req, res, limits.maxBytes);
      if (body.length === 0) throw invalid('media.url answered an empty body');
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
      `Fetching media.url failed: ${describe(err)}`,
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
    return Promise.reject(tooLarge(maxBytes, 'media.url', Number(declared)));
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
        fail(tooLarge(maxBytes, 'media.url'));
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

// ---------------------------------------------------------------------------------------------
// Names and types
// ---------------------------------------------------------------------------------------------

const MIME_BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  heic: 'image/heic',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  '3gp': 'video/3gpp',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  amr: 'audio/amr',
  wav: 'audio/wav',
  pdf: 'application/pdf',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  xml: 'application/xml',
  html: 'text/html',
  zip: 'application/zip',
  rar: 'application/vnd.rar',
  '7z': 'application/x-7z-compressed',
  vcf: 'text/vcard',
  apk: 'application/vnd.android.package-archive',
};

const OCTET_STREAM = 'application/octet-stream';
/** Content-Types that say nothing about the content. */
const GENERIC_TYPES = new Set([OCTET_STREAM, 'binary/octet-stream', 'application/binary']);

/** The mimetype of a file name's extension, if known. */
export function mimetypeFromName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const dot = name.lastIndexOf('.');
  if (dot < 0 || dot === name.length - 1) return undefined;
  return MIME_BY_EXTENSION[name.slice(dot + 1).toLowerCase()];
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

/** The last non-empty segment of the URL's path, decoded, as a file name. */
export function filenameFromUrl(url: URL): string | undefined {
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const last = segments[segments.length - 1];
  if (!last) return undefined;
  return cleanFilename(safeDecode(last));
}

/** Percent-decoded, or as it is when it is not valid percent-encoding. */
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A file name without path separators or control characters; undefined when nothing is left. */
function cleanFilename(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const cleaned = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').trim();
  if (cleaned === '' || cleaned === '.' || cleaned === '..') return undefined;
  return cleaned.slice(0, 255);
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function invalid(message: string): SessionDriverError {
  return new SessionDriverError(SessionErrorCode.InvalidMedia, 'permanent', message);
}

function tooLarge(maxBytes: number, what: string, size?: number): SessionDriverError {
  const seen = size === undefined ? 'more than that' : `${size} bytes`;
  return new SessionDriverError(
    SessionErrorCode.MediaTooLarge,
    'permanent',
    `${what} is larger than the limit of ${maxBytes} bytes (${seen})`,
  );
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
