import { promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { RequestOptions } from 'node:https';
import { withTimeout } from '../util/timeout';
import { classifyAddress, isAddressAllowed, type AddressClass } from './address-policy';

/**
 * Calling a URL someone else chose (media, webhooks) without a server-side request forgery hole:
 * the host is resolved ONCE, EVERY address it resolves to is checked against the address
 * policy, and the connection is pinned to the checked addresses (no second DNS lookup between
 * check and connect, which DNS rebinding would exploit). One implementation for every caller,
 * so the guard cannot differ between them; each caller turns the two errors below into its own.
 */

export interface ResolvedAddress {
  address: string;
  /** 4 or 6; derived from the address when absent. */
  family?: number;
}

/** How a host name is resolved (the system resolver, or a test's). */
export type HostLookup = (hostname: string) => Promise<ResolvedAddress[]>;

/** The host resolved to an address the policy refuses. */
export class AddressRefusedError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly addressClass: AddressClass,
  ) {
    super(`${host} resolves to ${address} (${addressClass}), which is not allowed`);
    this.name = 'AddressRefusedError';
  }
}

/** The host could not be resolved (`cause`: the resolver's error), or resolved to nothing. */
export class HostUnresolvedError extends Error {
  constructor(
    readonly host: string,
    override readonly cause?: unknown,
  ) {
    super(
      cause === undefined
        ? `${host} resolved to no address`
        : `Could not resolve ${host}: ${cause instanceof Error ? cause.message : JSON.stringify(cause)}`,
    );
    this.name = 'HostUnresolvedError';
  }
}

/** The host of a URL as a name or a bare IP (without the brackets of IPv6). */
export function bareHost(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Resolves the host of `url` and checks every address; returns the checked addresses. Rejects
 * with {@link AddressRefusedError}, {@link HostUnresolvedError}, or `aborted` when `signal` does.
 */
export async function resolveCheckedAddresses(
  url: URL,
  opts: { allowPrivate: boolean; lookup?: HostLookup; signal?: AbortSignal },
): Promise<ResolvedAddress[]> {
  const host = bareHost(url);
  let addresses: ResolvedAddress[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await withTimeout((opts.lookup ?? systemLookup)(host), { signal: opts.signal });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new HostUnresolvedError(host, err);
    }
  }
  if (!Array.isArray(addresses) || addresses.length === 0) {
    throw new HostUnresolvedError(host);
  }
  const checked: ResolvedAddress[] = [];
  for (const entry of addresses) {
    const address = entry.address;
    if (!isAddressAllowed(address, opts.allowPrivate)) {
      throw new AddressRefusedError(host, address, classifyAddress(address));
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
 * A `lookup` for net.connect / http.request that answers with the addresses already checked:
 * the socket goes where the check said, whatever the DNS says now.
 */
export function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
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

/** Percent-decoded, or as it is when it is not valid percent-encoding. */
function decodeOrKeep(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The options of an http(s) request to `url` whose socket goes to one of `addresses` (already
 * checked): our own socket (no pooled connection to somewhere else), the lookup pinned, and the
 * Host header and TLS SNI still the name in the URL; credentials in the URL become basic auth.
 * The caller adds method, headers and its own options.
 */
export function pinnedRequestOptions(
  url: URL,
  addresses: ResolvedAddress[],
  signal: AbortSignal,
): RequestOptions {
  const host = bareHost(url);
  const secure = url.protocol === 'https:';
  const options: RequestOptions = {
    protocol: url.protocol,
    hostname: host,
    port: url.port || (secure ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    agent: false,
    lookup: pinnedLookup(addresses),
    signal,
  };
  if (secure && !isIP(host)) options.servername = host;
  if (url.username || url.password) {
    options.auth = `${decodeOrKeep(url.username)}:${decodeOrKeep(url.password)}`;
  }
  return options;
}
