import { hash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys } from '@app/core';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { ApiError } from './api-error';
import { AuthFailureLimiter } from './auth-failures';
import { isPublicRoute } from './public.decorator';
import { isBrowserPage } from './browser-page.decorator';

export type AuthedRequest = FastifyRequest & { clientId?: string };

/** An API key's SHA-256 (one-shot `crypto.hash`: no Hash object per request). */
function keyDigest(apiKey: string): Buffer {
  return hash('sha256', apiKey, 'buffer');
}

/**
 * A stable, non-secret name for an API key, from its digest (computed once per request, to
 * check the key): used in Redis keys and logs instead of the key. The first 16 hex digits.
 */
function clientIdOf(digest: Buffer): string {
  return digest.toString('hex', 0, 8);
}

/** Methods that change nothing (a cross-site page cannot read their answers either). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a browser sent this request for a page of another site: its Fetch Metadata says so,
 * or its `Origin` is not this host. Scripts (curl, SDKs) send neither header and pass.
 */
export function isCrossSite(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true; // `null` (a sandboxed frame, a file) or garbage: not this site
  }
}

/** The key a request presents: `X-Api-Key`, or the password of HTTP basic credentials. */
export function presentedKey(req: FastifyRequest): { key: string; basic: boolean } | null {
  const header = req.headers['x-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key) return { key, basic: false };
  const auth = req.headers.authorization;
  const m = typeof auth === 'string' ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth) : null;
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // Any user name: the password is the API key (as Bull Board and the dashboard take it).
  return colon >= 0 ? { key: decoded.slice(colon + 1), basic: true } : null;
}

/**
 * Guard by default: every route needs a valid API key unless it is marked `@Public()`, decided
 * on the route Fastify matched (never on the raw URL: `/%61pi/sessions` routes to
 * `/api/sessions`). Addresses that keep failing get 429, whatever key they present.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly digests: Buffer[];
  private readonly failures: AuthFailureLimiter;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    @Inject(REDIS) redis: Redis,
    keys: RedisKeys,
    private readonly reflector: Reflector,
  ) {
    this.digests = config.apiKeys.map(keyDigest);
    this.failures = new AuthFailureLimiter(redis, keys.throttler(), config.authFailuresPerMinute);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (isPublicRoute(this.reflector, context)) return true;
    await this.authenticate(
      context.switchToHttp().getRequest<AuthedRequest>(),
      isBrowserPage(this.reflector, context) ? 'always' : 'browser',
    );
    return true;
  }

  /**
   * The key check itself, for this guard and for routes Nest's guards never see (Bull Board's
   * Fastify routes): resolves when the request carries a valid key, throws the 429 or 401
   * `ApiError` otherwise. `challenge` says when a 401 asks for basic credentials: `always` (a
   * page only a browser opens), or `browser` (only where a browser can answer it: it sent basic
   * credentials, or asks for a page; scripts get the plain 401).
   */
  async authenticate(req: AuthedRequest, challenge: 'always' | 'browser'): Promise<void> {
    const address = req.ip ?? 'unknown';
    const presented = presentedKey(req);
    // The key is checked first only to say whether the limiter may use its recent answer for
    // the address (AuthFailureLimiter.blockedFor); a blocked address gets 429 either way.
    const digest = presented === null ? null : keyDigest(presented.key);
    const valid = digest !== null && this.matchesDigest(digest);
    // Redis trouble must not turn a 401 into a 503: the key check holds either way.
    const wait = await this.failures.blockedFor(address, { validKey: valid }).catch(() => 0);
    if (wait > 0) {
      throw new ApiError(
        429,
        'TOO_MANY_AUTH_FAILURES',
        'Too many requests with a missing or wrong API key from this address; retry later',
        { 'Retry-After': String(wait) },
      );
    }
    if (presented && digest && valid) {
      // A browser resends saved basic credentials by itself, also on a request another site
      // makes it send (a form or no-cors fetch needs no preflight): refuse changes from there.
      if (presented.basic && !SAFE_METHODS.has(req.method) && isCrossSite(req)) {
        throw new ApiError(
          403,
          'CROSS_SITE_REQUEST',
          'A change sent with browser credentials from another site is refused; send the key as X-Api-Key',
        );
      }
      req.clientId = clientIdOf(digest);
      return;
    }
    await this.failures.record(address).catch(() => undefined);
    const asks =
      challenge === 'always' ||
      presented?.basic ||
      (req.headers.accept ?? '').includes('text/html');
    throw new ApiError(
      401,
      'UNAUTHORIZED',
      presented ? 'Invalid API key' : 'Missing X-Api-Key header (or basic credentials)',
      asks ? { 'WWW-Authenticate': 'Basic realm="wa-gateway", charset="UTF-8"' } : undefined,
    );
  }

  private matchesDigest(digest: Buffer): boolean {
    // Compare digests in constant time, against every key, so timing says nothing.
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, digest) || ok;
    return ok;
  }
}
