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
import { parseRetryAfter } from './retry-schedule';

export interface PostOptions {
  timeoutMs: number;
  /** WEBHOOK_ALLOW_PRIVATE: loopback and private addresses may be called. */
  allowPrivate: boolean;
  /** Name resolution (the system's unless a test gives its own). */
  lookup?: HostLookup;
}

/** What one POST came to. Never the response body: it is not read. */
export type PostResult =
  /** The endpoint answered (any status; a 3xx is not followed). */
  | { kind: 'answered'; status: number; retryAfterMs: number | null; durationMs: number }
  /** No answer: DNS, connection, TLS or timeout trouble. Worth another try. */
  | { kind: 'failed'; error: string; durationMs: number }
  /** The URL may not be called at all (not http(s), or an address the policy refuses). */
  | { kind: 'refused'; error: string; durationMs: number };

const USER_AGENT = 'wa-gateway-webhooks/1.0';

/**
 * POSTs a webhook: the host resolved once, every address checked by the shared address policy
 * and the socket pinned to them (DNS rebinding cannot move it), a timeout over the whole
 * exchange, no redirect followed, our own socket each time (no pooled connection to somewhere
 * else). The body of the answer is never read: its status and headers say all we need.
 */
export async function postWebhook(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  opts: PostOptions,
): Promise<PostResult> {
  const started = Date.now();
  const took = () => Date.now() - started;
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { kind: 'refused', error: 'the URL is not valid', durationMs: took() };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { kind: 'refused', error: `${url.protocol} is not http: or https:`, durationMs: took() };
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  try {
    const addresses = await resolveCheckedAddresses(url, {
      allowPrivate: opts.allowPrivate,
      lookup: opts.lookup,
      signal: controller.signal,
    });
    const res = await send(url, body, headers, addresses, controller.signal);
    const status = res.statusCode ?? 0;
    const retryAfter: string | undefined = res.headers['retry-after'];
    return {
      kind: 'answered',
      status,
      retryAfterMs: parseRetryAfter(retryAfter),
      durationMs: took(),
    };
  } catch (err) {
    if (err instanceof AddressRefusedError) {
      return { kind: 'refused', error: err.message, durationMs: took() };
    }
    if (controller.signal.aborted) {
      return { kind: 'failed', error: `no answer within ${opts.timeoutMs} ms`, durationMs: took() };
    }
    if (err instanceof HostUnresolvedError) {
      return { kind: 'failed', error: err.message, durationMs: took() };
    }
    return { kind: 'failed', error: describeNetworkError(err), durationMs: took() };
  } finally {
    clearTimeout(timer);
  }
}

/** One POST; resolves with the response's head, then drops the connection. */
function send(
  url: URL,
  body: string,
  headers: Record<string, string>,
  addresses: ResolvedAddress[],
  signal: AbortSignal,
): Promise<http.IncomingMessage> {
  const secure = url.protocol === 'https:';
  const payload = Buffer.from(body, 'utf8');
  const options: https.RequestOptions = {
    ...pinnedRequestOptions(url, addresses, signal),
    method: 'POST',
    headers: {
      ...headers,
      'content-type': 'application/json',
      'content-length': String(payload.length),
      'user-agent': USER_AGENT,
    },
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(options);
    req.on('error', reject);
    req.once('response', (res) => {
      // The body is not ours to keep: drop the connection once the status is known.
      res.on('error', () => undefined);
      req.destroy();
      resolve(res);
    });
    req.end(payload);
  });
}

/** A network error for a person: its code and message, never the URL (query strings hold keys). */
function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
}
