import { randomUUID } from 'node:crypto';

/** What an incoming X-Request-Id may be to be kept: short, and nothing a log line must escape. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * The id of a request: the caller's `X-Request-Id` when it is a sane token (so a proxy's or a
 * client's id follows the request into our logs), a fresh UUID otherwise. A header that is
 * too long, repeated or holds other characters is replaced, never trimmed: the id every line
 * carries, and the one echoed, is always a short token safe to grep and to put in a header.
 */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** The path of a request URL without its query string, which logs never hold. */
export function pathOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
