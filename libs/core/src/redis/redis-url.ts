/**
 * REDIS_URL forms (CONTRACT: "the one Redis, or Redis Cluster / Sentinel URL"):
 *
 * - `redis://[[user]:password@]host[:port][/db]` and `rediss://…` (TLS): one server, as ioredis
 *   reads it.
 * - `redis+sentinel://[[user]:password@]host1[:port1][,host2[:port2]…]/<master name>[/db][?sentinelPassword=…]`:
 *   a primary found through Redis Sentinel. The credentials are the primary's; the Sentinels'
 *   own password, if they have one, goes in `sentinelPassword`. ioredis asks the Sentinels for the
 *   current primary on every (re)connection, so the apps follow a failover by themselves.
 *   The form is the one `redis+sentinel` URLs take elsewhere (Bitnami, redis-sentinel-url).
 *
 * Parsed by hand: the WHATWG URL parser does not take a comma-separated host list.
 */
export type RedisUrl =
  | { kind: 'server'; url: string }
  | {
      kind: 'sentinel';
      sentinels: { host: string; port: number }[];
      /** The master name the Sentinels monitor (`sentinel monitor <name> …`). */
      name: string;
      username?: string;
      password?: string;
      sentinelPassword?: string;
      db: number;
    };

export class RedisUrlError extends Error {}

const FORM =
  'redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/<master name>[/db][?sentinelPassword=…]';

export function parseRedisUrl(url: string): RedisUrl {
  if (/^rediss?:\/\//.test(url)) return { kind: 'server', url };
  if (url.startsWith('rediss+sentinel://')) {
    throw new RedisUrlError('Sentinel over TLS (rediss+sentinel://) is not supported');
  }
  if (!url.startsWith('redis+sentinel://')) {
    throw new RedisUrlError(
      `must start with redis://, rediss:// or redis+sentinel://, got "${redact(url)}"`,
    );
  }
  const bad = () => new RedisUrlError(`a Sentinel URL is ${FORM}, got "${redact(url)}"`);
  const rest = url.slice('redis+sentinel://'.length);
  // The credentials end at the LAST '@' before the path (a password may hold '@' and ':'),
  // as the WHATWG URL parser reads a userinfo.
  const slash = rest.search(/\/(?=[^@]*$)/);
  if (slash < 0) throw bad();
  const authority = rest.slice(0, slash);
  const at = authority.lastIndexOf('@');
  const auth = at < 0 ? undefined : authority.slice(0, at);
  const hosts = authority.slice(at + 1);
  const [path, query, ...more] = rest.slice(slash + 1).split('?');
  const [name, db, ...extra] = path.split('/').filter((part, k, all) => part || k < all.length - 1);
  if (!hosts || !name || more.length || extra.length || (db !== undefined && !/^\d+$/.test(db)))
    throw bad();
  const sentinels = hosts.split(',').map((h) => {
    const hm = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(h.trim());
    const port = hm?.[2] === undefined ? 26379 : Number(hm[2]);
    if (!hm || port < 1 || port > 65535) {
      throw new RedisUrlError(`"${h}" is not a Sentinel host[:port]`);
    }
    return { host: hm[1].replace(/^\[|\]$/g, ''), port };
  });
  let username: string | undefined;
  let password: string | undefined;
  if (auth !== undefined) {
    const colon = auth.indexOf(':');
    const user = colon < 0 ? auth : auth.slice(0, colon);
    username = user ? decoded(user, 'user name') : undefined;
    password = colon < 0 ? undefined : decoded(auth.slice(colon + 1), 'password') || undefined;
  }
  let sentinelPassword: string | undefined;
  for (const pair of query ? query.split('&') : []) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (key !== 'sentinelPassword') throw new RedisUrlError(`unknown option "${key.slice(0, 40)}"`);
    // Percent-decoded like the rest of the URL ('+' stays '+', as in a base64 password).
    sentinelPassword = decoded(eq < 0 ? '' : pair.slice(eq + 1), 'sentinelPassword') || undefined;
  }
  return {
    kind: 'sentinel',
    sentinels,
    name: decoded(name, 'master name'),
    username,
    password,
    sentinelPassword,
    db: database(db),
  };
}

/** Percent-decoding that fails as a RedisUrlError (so REDIS_URL is named), never a URIError. */
function decoded(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RedisUrlError(`the ${what} of the Sentinel URL is not valid percent-encoding`);
  }
}

/** Redis numbers its databases 0–15 by default; a server may have more, never 2^53. */
function database(db: string | undefined): number {
  if (db === undefined) return 0;
  const n = Number(db);
  if (!Number.isSafeInteger(n) || n > 65535)
    throw new RedisUrlError(`database "${db}" is out of range`);
  return n;
}

/** The URL with its credentials masked (everything up to the last '@'), for error messages. */
function redact(url: string): string {
  return url
    .replace(/^([a-z+]+:\/\/)(.*)@/is, (_m, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return `${scheme}${colon < 0 ? '***' : `${userinfo.slice(0, colon)}:***`}@`;
    })
    .replace(/(sentinelPassword=)[^&#]*/, '$1***');
}
