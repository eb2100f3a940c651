import type { Redis } from 'ioredis';
import { defineLuaCommand, type LuaCommand, type RedisKeys } from '@app/core';
import { isUnpaced, type RateLimit } from '@app/session';

/** How long until the session may send: the pending random gap, and the per-minute cap. */
const WAIT_LUA = `
local now = tonumber(ARGV[1])
local perMinute = tonumber(ARGV[2])
local wait = 0
local nextAt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nextAt > now then wait = nextAt - now end
if perMinute > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[1]) >= perMinute then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + 60000 - now
    if w > wait then wait = w end
  end
end
return wait
`;

/** Records a send: its time for the per-minute cap, and the gap before the next one. */
const RECORD_LUA = `
local now = tonumber(ARGV[1])
local gap = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], 60000)
if gap > 0 then redis.call('SET', KEYS[2], now + gap, 'PX', gap) end
return 1
`;

/**
 * Per-account pacing kept in Redis, so it survives a worker change: a session adopted by
 * another worker keeps its budget. Nothing here waits: the caller hands the wait to BullMQ's
 * rate limiter, which holds no job lock meanwhile.
 */
export class Pacing {
  private readonly paceWait: LuaCommand<
    [zset: string, next: string, now: number, perMinute: number],
    number
  >;
  private readonly paceRecord: LuaCommand<
    [zset: string, next: string, now: number, gap: number, member: string],
    number
  >;

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
    private readonly sessionId: string,
    private readonly rate: RateLimit,
  ) {
    this.paceWait = defineLuaCommand(redis, 'waPaceWait', { numberOfKeys: 2, lua: WAIT_LUA });
    this.paceRecord = defineLuaCommand(redis, 'waPaceRecord', {
      numberOfKeys: 2,
      lua: RECORD_LUA,
    });
  }

  get enabled(): boolean {
    return !isUnpaced(this.rate);
  }

  /** Milliseconds to wait before the next send; 0 = send now. */
  async waitMs(now = Date.now()): Promise<number> {
    if (!this.enabled) return 0;
    return Number(
      await this.paceWait(
        this.keys.pacing(this.sessionId),
        this.keys.pacingNext(this.sessionId),
        now,
        this.rate.perMinute,
      ),
    );
  }

  async recordSend(messageId: string, now = Date.now()): Promise<void> {
    if (!this.enabled) return;
    await this.paceRecord(
      this.keys.pacing(this.sessionId),
      this.keys.pacingNext(this.sessionId),
      now,
      this.nextGap(),
      `${now}:${messageId}`,
    );
  }

  /** A random gap in [minDelayMs, maxDelayMs]: regular intervals look like a bot. */
  nextGap(): number {
    const { minDelayMs, maxDelayMs } = this.rate;
    return Math.round(minDelayMs + Math.random() * Math.max(0, maxDelayMs - minDelayMs));
  }
}
