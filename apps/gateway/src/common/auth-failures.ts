import type { Redis } from 'ioredis';
import { defineLuaCommand, type LuaCommand } from '@app/core';

/** One window of failed authentications per address. */
const WINDOW_MS = 60000;

/** INCR with the window's expiry set on the first failure only (a fixed window). */
const RECORD_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

/**
 * The failures counted for an address and the time left in their window, in one command (GET
 * and PTTL were two on every authenticated request). Returns {count, pttl}, count 0 when none.
 */
const BLOCKED_LUA = `
local n = redis.call('GET', KEYS[1])
if not n then return {0, -2} end
return {tonumber(n), redis.call('PTTL', KEYS[1])}
`;

/**
 * Counts 401s per client address in Redis (under QUEUE_PREFIX, so every gateway replica shares
 * the count): past `limit` failures in a minute the address gets 429 before its key is even
 * looked at, so guessing keys from one address is slow whatever the replicas.
 */
export class AuthFailureLimiter {
  private readonly failures: LuaCommand<[key: string], [number, number]>;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly limit: number,
  ) {
    this.failures = defineLuaCommand(redis, 'waAuthFailures', {
      numberOfKeys: 1,
      lua: BLOCKED_LUA,
    });
  }

  private key(address: string): string {
    return `${this.keyPrefix}auth-failures:{${address}}`;
  }

  /** Seconds the address must wait, or 0 when it may try. */
  async blockedFor(address: string): Promise<number> {
    const [count, ttl] = await this.failures(this.key(address));
    if (count < this.limit) return 0;
    return Math.max(1, Math.ceil((ttl > 0 ? ttl : WINDOW_MS) / 1000));
  }

  async record(address: string): Promise<void> {
    await this.redis.eval(RECORD_LUA, 1, this.key(address), WINDOW_MS);
  }
}
