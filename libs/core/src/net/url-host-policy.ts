import { classifyAddress, isAddressAllowed } from './address-policy';

/** Why a URL's host is refused, or null when it may be called. */
export type HostRefusal = string | null;

/**
 * Checks the host of a URL the system will call later (a webhook), as far as it can be checked
 * without DNS: a literal address (in any spelling: WHATWG URL parsing turns `2130706433`,
 * `0x7f.1`, `0177.0.0.1` into `127.0.0.1`) is classified by the address policy; `localhost` and
 * `*.localhost` always mean the local host (RFC 6761). A host name is resolved, checked and
 * pinned at delivery time, like media URLs are, since its DNS answer can change after this check.
 */
export function refuseUrlHost(url: URL, allowPrivate: boolean): HostRefusal {
  let host = url.hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  // A trailing dot is the same name, fully qualified.
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return allowPrivate ? null : `${host} is the local host`;
  }
  const cls = classifyAddress(host);
  if (cls === 'invalid') return null; // a name, checked when it is resolved
  if (isAddressAllowed(host, allowPrivate)) return null;
  return `${host} is a ${cls} address`;
}

/**
 * A URL as people may see it (API answers after the one that set it, jobs, dead letters, logs,
 * Bull Board): scheme, host, port and path. Credentials, the query string and the fragment often
 * hold tokens, so they are left out; an unparsable URL shows as an empty string, never raw.
 */
export function urlForPeople(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '';
  }
}
