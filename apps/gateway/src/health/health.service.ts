import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys } from '@app/core';
import { SessionsService } from '../sessions/sessions.service';

@Injectable()
export class HealthService {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly sessions: SessionsService,
    private readonly keys: RedisKeys,
  ) {}

  async redisUp(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /**
   * `GET /api/health`: the seed gateway's fields, per session. `degraded` when any session
   * cannot send, `down` when Redis is unreachable (nothing can be accepted).
   */
  async report() {
    if (!(await this.redisUp())) return { status: 'down' as const, redis: false, sessions: [] };
    const list = await this.sessions.list();
    const sessions = list.map((s) => ({
      id: s.id,
      status: s.status,
      worker: s.worker,
      session_health: s.health.healthy,
      last_health_check: s.health.lastCheckAt,
      message_queue_length: s.queue.waiting + s.queue.delayed,
      processing_queue: s.queue.active > 0 || (!s.queue.paused && s.queue.waiting > 0),
      restart_in_progress: s.restartInProgress,
      recoveries: s.health.recoveries,
      last_error: s.lastError,
    }));
    const degraded = sessions.some((s) => s.status !== 'ready');
    // What the workers' consistency check settled (records whose job ended without them).
    const [fixed, lastRunAt] = await this.redis.hmget(
      this.keys.stats(),
      'consistencyFixed',
      'consistencyLastRunAt',
    );
    return {
      status: degraded ? ('degraded' as const) : ('ok' as const),
      redis: true,
      sessions,
      consistency: { fixed: Number(fixed ?? 0), lastRunAt: lastRunAt ?? null },
    };
  }
}
