import type { Redis } from 'ioredis';
import { defineLuaCommand, type LuaCommand } from '@app/core';

/** One window of failed authentications per address. */
const WINDOW_MS = 60000;

/**
 * How long a request with a valid key may go by this process's last answer for its address
 * instead of asking Redis (see {@link AuthFailureLimiter.blockedFor}).
 */
const ANSWER_CACHE_MS = 1000;

/**
 * INCR with the window's expiry set on the first failure only (a fixed window). Returns
 * {count, pttl}, as BLOCKED_LUA does.
 */
const RECORD_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
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

/** What Redis last said about an address: blocked until when (0 = not blocked), read when. */
interface Answer {
  blockedUntil: number;
  at: number;
}

/**
 * Counts 401s per client address in Redis (under QUEUE_PREFIX, so every gateway replica shares
 * the count): past `limit` failures in a minute the address gets 429 whatever key it presents,
 * so guessing keys from one address is slow whatever the replicas.
 */
export class AuthFailureLimiter {
  private readonly failures: LuaCommand<[key: string], [number, number]>;
  private readonly recordFailure: LuaCommand<[key: string, windowMs: number], [number, number]>;
  /** Each address's last answer from Redis, oldest first (at most `maxAddresses`). */
  private readonly answers = new Map<string, Answer>();

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly limit: number,
    /** Addresses whose last answer is kept: a flood of new addresses must not grow the map. */
    private readonly maxAddresses = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.failures = defineLuaCommand(redis, 'waAuthFailures', {
      numberOfKeys: 1,
      lua: BLOCKED_LUA,
    });
    this.recordFailure = defineLuaCommand(redis, 'waAuthFailureRecord', {
      numberOfKeys: 1,
      lua: RECORD_LUA,
    });
  }

  private key(address: string): string {
    return `${this.keyPrefix}auth-failures:{${address}}`;
  }

  /**
   * Seconds the address must wait, or 0 when it may try.
   *
   * `validKey`: the request carries a valid key. Then an answer this process got from Redis
   * for the address within ANSWER_CACHE_MS is used again (one Redis command less on nearly every
   * request). What keeps the guarantee: a missing or wrong key always asks Redis here and is
   * always recorded, so the guessing rate per address is limited exactly as before; an address
   * this process saw blocked stays refused, right key or not, since every read and every record
   * refreshes the answer. The only slack: a valid key from an address another replica blocked
   * less than ANSWER_CACHE_MS ago passes (a holder of a valid key gains nothing by guessing).
   *
   * A recent answer that says blocked is used for every key, valid or not: a blocked address
   * gets its 429 in the same way (from memory, without a Redis round trip) whatever it presents,
   * so the time of the answer cannot tell a right key from a wrong one while it is blocked.
   */
  async blockedFor(address: string, { validKey = false } = {}): Promise<number> {
    const now = this.now();
    const known = this.answers.get(address);
    if (known && now - known.at < ANSWER_CACHE_MS && (validKey || known.blockedUntil > now))
      return this.wait(known.blockedUntil, now);
    const [count, ttl] = await this.failures(this.key(address));
    return this.wait(this.remember(address, count, ttl, now), now);
  }

  async record(address: string): Promise<void> {
    const now = this.now();
    const [count, ttl] = await this.recordFailure(this.key(address), WINDOW_MS);
    this.remember(address, count, ttl, now);
  }

  /** Keeps Redis's answer for the address; returns until when it is blocked (0 = not). */
  private remember(address: string, count: number, ttl: number, now: number): number {
    const blockedUntil = count < this.limit ? 0 : now + (ttl > 0 ? ttl : WINDOW_MS);
    // Re-inserted at the end, so the first entry is always the oldest answer.
    this.answers.delete(address);
    if (this.answers.size >= this.maxAddresses) {
      const oldest = this.answers.keys().next().value;
      if (oldest !== undefined) this.answers.delete(oldest);
    }
    this.answers.set(address, { blockedUntil, at: now });
    return blockedUntil;
  }

  private wait(blockedUntil: number, now: number): number {
    if (blockedUntil <= now) return 0;
    return Math.max(1, Math.ceil((blockedUntil - now) / 1000));
  }

  /** How many addresses have an answer kept (at most `maxAddresses`). */
  get rememberedAddresses(): number {
    return this.answers.size;
  }
}
