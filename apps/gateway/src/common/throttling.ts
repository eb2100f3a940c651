import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { isPublicRoute } from './public.decorator';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { Redis } from 'ioredis';
import { defineLuaCommand, type LuaCommand } from '@app/core';
import type { AuthedRequest } from './api-key.guard';

/**
 * Requests are counted per API key (not per IP: many clients sit behind one proxy), in Redis so
 * every gateway replica shares the count. Public routes (probes) are not limited, nor routes
 * marked `@SkipThrottle()`; like the API key, this is decided on the matched route, so every
 * spelling of a path counts.
 */
@Injectable()
export class ApiKeyThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const r = req as unknown as AuthedRequest;
    return r.clientId ?? r.ip ?? 'anonymous';
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return isPublicRoute(this.reflector, context);
  }

  protected override generateKey(
    _context: ExecutionContext,
    tracker: string,
    name: string,
  ): string {
    return `${tracker}:${name}`;
  }
}

/** What the throttler storage answers for one hit (ThrottlerStorage's record). */
interface Hit {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/** Hits this replica reserved in Redis and has not used yet, for one key's current window. */
interface Reservation {
  /** The count the next local hit reports (Redis counted it already). */
  next: number;
  /** The last count reserved. */
  last: number;
  /** When the window the hits were counted in ends (this process's clock). */
  windowEnds: number;
}

/** Fraction of the limit one replica may reserve at once: the error bound, see batchFor. */
const RESERVE_FRACTION = 0.01;

/** Keys whose reservation is kept (API keys in practice; a bound all the same). */
const MAX_RESERVATIONS = 10_000;

/**
 * Reserves up to ARGV[4] hits of a key's window at once, never past the limit. Same keys and
 * same counting as the parent's script (both may run on one key: replicas of two versions):
 * while blocked, a hit counts and is refused; a hit over the limit counts, starts the block and
 * is refused. KEYS: hits, blocked. ARGV: ttl ms, limit, block ms, hits wanted. Returns
 * {totalHits, ms to window end, 1 if blocked, ms to block end, hits granted}.
 */
const RESERVE_LUA = `
local ttl = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local function count(n)
  local hits = redis.call('INCRBY', KEYS[1], n)
  local left = redis.call('PTTL', KEYS[1])
  if left <= 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
    left = ttl
  end
  return hits, left
end
local blockLeft = redis.call('PTTL', KEYS[2])
if blockLeft == -1 then
  -- A block without expiry: ended, as the parent's script treats it (hits start over).
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[1], 0, 'PX', ttl)
elseif blockLeft > 0 then
  local hits, left = count(1)
  return {hits, left, 1, blockLeft, 0}
end
local before = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = math.min(tonumber(ARGV[4]), limit - before)
if granted <= 0 then
  local hits, left = count(1)
  redis.call('SET', KEYS[2], 1, 'PX', ARGV[3])
  return {hits, left, 1, tonumber(ARGV[3]), 0}
end
local hits, left = count(granted)
return {hits, left, 0, 0, granted}
`;

/**
 * How many hits one gateway process reserves at once for `limit`: 1 % of it shared by the
 * `processes` of a replica (GATEWAY_WORKERS: each holds its own reservation), and 1 (every hit
 * asks Redis, exactly the parent's behaviour) where that share is under 2.
 */
export function batchFor(limit: number, processes = 1): number {
  return Math.max(1, Math.floor((limit * RESERVE_FRACTION) / Math.max(1, processes)));
}

/**
 * The Redis storage of @nest-lab, with keys under QUEUE_PREFIX like every key we write, and hits
 * reserved in batches.
 *
 * Batches: a replica counts {@link batchFor} hits in Redis at once and answers the next ones from
 * memory until they are used or their window ends. What it keeps: every hit a replica lets
 * through was counted in Redis, in the window it is let through in, before it was let through,
 * and never past the limit, so no key ever gets more than the limit in a window, whatever the
 * replicas. The error is the other way only: hits reserved and not used still count, so a key may
 * be refused up to (batch - 1) requests early per process, i.e. at most 1 % of the limit per
 * replica (its GATEWAY_WORKERS processes share that 1 %); and
 * a block another replica starts lets this one finish its reserved hits (within the limit).
 * Below a limit of 200 the batch is 1 and every hit asks Redis, as before.
 */
export class PrefixedThrottlerStorage extends ThrottlerStorageRedisService {
  /**
   * The parent's script as a defined command: EVALSHA with its 40-byte digest instead of EVAL
   * with the whole script on every request (the gateway's profile showed the send of that
   * source among its top costs; Redis also hashes it on every EVAL). Same script, same counts.
   */
  private readonly count: LuaCommand<
    [hits: string, blocked: string, name: string, ttl: number, limit: number, block: number],
    [number, number, number, number]
  >;
  private readonly reserve: LuaCommand<
    [hits: string, blocked: string, ttl: number, limit: number, block: number, want: number],
    [number, number, number, number, number]
  >;
  /** Each key's unused reserved hits, oldest first (at most MAX_RESERVATIONS keys). */
  private readonly reservations = new Map<string, Reservation>();
  /** A reservation on its way to Redis, per key: hits arriving meanwhile wait for it. */
  private readonly reserving = new Map<string, Promise<unknown>>();

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
    private readonly now: () => number = Date.now,
    /** This replica's gateway processes (GATEWAY_WORKERS): they share its 1 %. */
    private readonly processes = 1,
  ) {
    super(redis);
    this.count = defineLuaCommand(redis, 'waThrottleIncrement', {
      numberOfKeys: 2,
      lua: this.scriptSrc,
    });
    this.reserve = defineLuaCommand(redis, 'waThrottleReserve', {
      numberOfKeys: 2,
      lua: RESERVE_LUA,
    });
  }

  // Same counting as the parent's, but keys that begin with the prefix (the parent's begin with
  // a '{' hash tag).
  override async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    name: string,
  ): Promise<Hit> {
    const base = `${this.keyPrefix}{${key}}:${name}`;
    const batch = batchFor(limit, this.processes);
    if (batch === 1) return this.countOne(base, name, ttl, limit, blockDuration);
    for (;;) {
      const local = this.takeReserved(base);
      if (local) return local;
      const pending = this.reserving.get(base);
      if (!pending) break;
      // Its owner answers for its failure; this hit then reserves again.
      await pending.catch(() => undefined);
    }
    const reserved = this.reserveBatch(base, ttl, limit, blockDuration, batch);
    this.reserving.set(base, reserved);
    try {
      return await reserved;
    } finally {
      this.reserving.delete(base);
    }
  }

  /** A hit from this replica's reservation, or null when it has none left in this window. */
  private takeReserved(base: string): Hit | null {
    const r = this.reservations.get(base);
    if (!r) return null;
    const now = this.now();
    if (r.next > r.last || now >= r.windowEnds) {
      this.reservations.delete(base);
      return null;
    }
    r.next++;
    return {
      // What Redis had counted when this process last asked (its unused hits included), not
      // its own tally: X-RateLimit-Remaining does not offer hits already reserved as free.
      totalHits: r.last,
      timeToExpire: Math.ceil((r.windowEnds - now) / 1000),
      isBlocked: false,
      timeToBlockExpire: 0,
    };
  }

  private async reserveBatch(
    base: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    batch: number,
  ): Promise<Hit> {
    const now = this.now();
    const counted = await this.reserve(
      `${base}:hits`,
      `${base}:blocked`,
      ttl,
      limit,
      blockDuration,
      batch,
    ).catch(() => null);
    // As in countOne: a counter Redis cannot write does not refuse the request by itself.
    if (!counted) return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
    const [totalHits, timeToExpire, isBlocked, timeToBlockExpire, granted] = counted;
    if (granted > 1) {
      this.reservations.delete(base);
      if (this.reservations.size >= MAX_RESERVATIONS) {
        const oldest = this.reservations.keys().next().value;
        if (oldest !== undefined) this.reservations.delete(oldest);
      }
      this.reservations.set(base, {
        next: totalHits - granted + 2,
        last: totalHits,
        windowEnds: now + timeToExpire,
      });
    }
    return {
      // What Redis counted, this batch included (as for the reserved hits that follow it).
      totalHits,
      timeToExpire: Math.ceil(timeToExpire / 1000),
      isBlocked: isBlocked === 1,
      timeToBlockExpire: Math.ceil(timeToBlockExpire / 1000),
    };
  }

  /** One hit, one command: the parent's script. */
  private async countOne(
    base: string,
    name: string,
    ttl: number,
    limit: number,
    blockDuration: number,
  ): Promise<Hit> {
    // A counter Redis cannot write (full: OOM under noeviction, or down) does not refuse the
    // request by itself: reads still work while Redis is full, and a write fails on its own
    // with 503 and nothing stored.
    const counted = await this.count(
      `${base}:hits`,
      `${base}:blocked`,
      name,
      ttl,
      limit,
      blockDuration,
    ).catch(() => null);
    if (!counted) return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
    const [totalHits, timeToExpire, isBlocked, timeToBlockExpire] = counted;
    return {
      totalHits,
      timeToExpire: Math.ceil(timeToExpire / 1000),
      isBlocked: isBlocked === 1,
      timeToBlockExpire: Math.ceil(timeToBlockExpire / 1000),
    };
  }
}
