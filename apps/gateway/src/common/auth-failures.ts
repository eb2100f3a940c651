import type { Redis } from 'ioredis';

/** One window of failed authentications per address. */
const WINDOW_MS = 60000;

/** INCR with the window's expiry set on the first failure only (a fixed window). */
const RECORD_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

/**
 * Counts 401s per client address in Redis (under QUEUE_PREFIX, so every gateway replica shares
 * the count): past `limit` failures in a minute the address gets 429 before its key is even
 * looked at, so guessing keys from one address is slow whatever the replicas.
 */
export class AuthFailureLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly limit: number,
  ) {}

  private key(address: string): string {
    return `${this.keyPrefix}auth-failures:{${address}}`;
  }

  /** Seconds the address must wait, or 0 when it may try. */
  async blockedFor(address: string): Promise<number> {
    const [count, ttl] = await Promise.all([
      this.redis.get(this.key(address)),
      this.redis.pttl(this.key(address)),
    ]);
    if (count === null || Number(count) < this.limit) return 0;
    return Math.max(1, Math.ceil((ttl > 0 ? ttl : WINDOW_MS) / 1000));
  }

  async record(address: string): Promise<void> {
    await this.redis.eval(RECORD_LUA, 1, this.key(address), WINDOW_MS);
  }
}
