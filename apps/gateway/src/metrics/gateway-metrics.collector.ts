import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys, redisUpGauge, withTimeout } from '@app/core';
import {
  MAINTENANCE_QUEUE,
  queueDepth,
  queueKeys,
  WEBHOOKS_QUEUE,
  type QueueDepth,
} from '@app/queue';
import { SessionStore } from '@app/session';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { fleetGauges } from './fleet.metrics';

/** Longest a scrape waits for Redis (the producer connection fails at once when it is down). */
const SCRAPE_REDIS_TIMEOUT_MS = 2000;

const FIXED_QUEUES = [WEBHOOKS_QUEUE, MAINTENANCE_QUEUE] as const;

/**
 * The gateway's scrape-time gauges: whether Redis answers, and the fleet figures no single
 * worker owns. Bounded Redis work per scrape, never a SCAN: one pipeline per fixed queue, a
 * ZCARD, the registry's ids and their leases (as `GET /api/sessions` reads them).
 */
@Injectable()
export class GatewayMetricsCollector {
  private readonly fixed: { name: string; keys: ReturnType<typeof queueKeys> }[];

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly sessions: SessionStore,
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
  ) {
    this.fixed = FIXED_QUEUES.map((name) => ({ name, keys: queueKeys(config.queuePrefix, name) }));
  }

  async refresh(): Promise<void> {
    const g = fleetGauges;
    try {
      const [depths, deadLetters, owners] = await withTimeout(
        Promise.all([
          Promise.all(this.fixed.map((q) => queueDepth(this.redis, q.keys))),
          this.redis.zcard(this.keys.webhookDeadLetters()),
          this.sessions.ids().then((ids) => this.sessions.owners(ids)),
        ]),
        SCRAPE_REDIS_TIMEOUT_MS,
      );
      redisUpGauge.set(1);
      this.fixed.forEach((q, i) => setDepth(q.name, depths[i]));
      g.deadLetters.set(deadLetters);
      g.sessions.set(owners.length);
      g.unowned.set(owners.filter((o) => o === null).length);
    } catch {
      // Redis unreachable: say so. Queue figures leave the output; the plain counts keep
      // their last value (an unlabelled gauge cannot be absent, and 0 would be a lie).
      redisUpGauge.set(0);
      g.queueJobs.reset();
    }
  }
}

function setDepth(queue: string, d: QueueDepth): void {
  for (const state of ['waiting', 'active', 'delayed', 'failed'] as const)
    fleetGauges.queueJobs.set({ queue, state }, d[state]);
}
