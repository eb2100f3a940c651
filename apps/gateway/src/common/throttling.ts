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

/** The Redis storage of @nest-lab, with keys under QUEUE_PREFIX like every key we write. */
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

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
  ) {
    super(redis);
    this.count = defineLuaCommand(redis, 'waThrottleIncrement', {
      numberOfKeys: 2,
      lua: this.scriptSrc,
    });
  }

  // Same script as the parent's, but keys that begin with the prefix (the parent's begin with
  // a '{' hash tag).
  override async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    name: string,
  ) {
    const base = `${this.keyPrefix}{${key}}:${name}`;
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
