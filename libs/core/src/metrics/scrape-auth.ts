import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ConfigError, type EnvReader } from '../config/env';

/**
 * The key a scrape presents, in any of the forms a Prometheus scrape config can send:
 * `Authorization: Bearer <key>` (`authorization.credentials`, `bearer_token`), the password of
 * basic credentials (`basic_auth`, any user), or an `X-Api-Key` header (`http_headers`).
 */
export function presentedScrapeKey(headers: IncomingHttpHeaders): string | null {
  const header = headers['x-api-key'];
  const apiKey = Array.isArray(header) ? header[0] : header;
  if (apiKey) return apiKey;
  const auth = headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth);
  if (!basic) return null;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : null;
}

/**
 * METRICS_API_KEY's check, the same on the gateway and the workers: true when no key is set
 * (metrics are open, as Prometheus exporters usually are), or when the scrape presents it.
 * Compared as digests, in constant time.
 */
export function scrapeAllowed(
  headers: IncomingHttpHeaders,
  metricsApiKey: string | undefined,
): boolean {
  if (!metricsApiKey) return true;
  const presented = presentedScrapeKey(headers);
  if (presented === null) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(presented), digest(metricsApiKey));
}

/** METRICS_API_KEY, read the same way by every app: unset, or at least 16 characters. */
export function readMetricsApiKey(env: EnvReader): string | undefined {
  const key = env.optionalString('METRICS_API_KEY');
  if (key !== undefined && key.length < 16)
    throw new ConfigError('METRICS_API_KEY', 'must be at least 16 characters long');
  return key;
}
