import type { Redis } from 'ioredis';

/** A Lua script run as a Redis command: its keys come first in every call. */
export interface LuaCommandSpec {
  /**
   * How many of the call's arguments are keys (Redis Cluster routes on them). null: it varies,
   * and each call gives it as its first argument (ioredis's own convention).
   */
  numberOfKeys: number | null;
  lua: string;
}

/** Calls a defined Lua command: keys first, then the script's ARGV. */
export type LuaCommand<Args extends unknown[], Result> = (...args: Args) => Promise<Result>;

/** The scripts defined on each connection, by command name. */
const defined = new WeakMap<object, Map<string, string>>();

/**
 * Defines a Lua command on a connection (ioredis sends EVALSHA, and the script itself once per
 * connection when Redis does not know it yet) and returns a typed caller. Each store makes its
 * commands when it is built, and several stores share one connection: defining a name twice
 * with the same script is a no-op; defining it with another script throws, since one of the two
 * callers would run the other's Lua.
 *
 * ```ts
 * const renew = defineLuaCommand<[lease: string, value: string, ttlMs: number], number>(
 *   redis, 'waLeaseRenew', { numberOfKeys: 1, lua: RENEW_LUA });
 * await renew(key, value, 15000);
 * ```
 */
export function defineLuaCommand<Args extends unknown[], Result>(
  redis: Redis,
  name: string,
  spec: LuaCommandSpec,
): LuaCommand<Args, Result> {
  let scripts = defined.get(redis);
  if (!scripts) defined.set(redis, (scripts = new Map<string, string>()));
  const known = scripts.get(name);
  if (known === undefined) {
    if (name in redis) throw new Error(`"${name}" is taken on this Redis connection`);
    redis.defineCommand(
      name,
      spec.numberOfKeys === null
        ? { lua: spec.lua }
        : { numberOfKeys: spec.numberOfKeys, lua: spec.lua },
    );
    scripts.set(name, spec.lua);
  } else if (known !== spec.lua) {
    throw new Error(`Lua command "${name}" is defined already, with another script`);
  }
  const command = (redis as unknown as Record<string, (...args: unknown[]) => Promise<Result>>)[
    name
  ];
  return (...args: Args) => command.apply(redis, args);
}
