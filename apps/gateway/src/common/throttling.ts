import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { isPublicRoute } from './public.decorator';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { Redis } from 'ioredis';
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
  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
  ) {
    super(redis);
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
    const counted = (await this.redis
      .call(
        'eval',
        this.scriptSrc,
        2,
        `${base}:hits`,
        `${base}:blocked`,
        name,
        ttl,
        limit,
        blockDuration,
      )
      .catch(() => null)) as [number, number, number, number] | null;
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
