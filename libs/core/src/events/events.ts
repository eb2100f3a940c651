import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/redis-keys';

export type EventType = 'message.status' | 'message.received' | 'session.status';

/** An event as webhooks and the live stream carry it (`id` is stable across retries). */
export interface GatewayEvent<T = unknown> {
  id: string;
  type: EventType;
  session: string;
  timestamp: string;
  data: T;
}

/**
 * Publishes events on the events channel for live consumers (the SSE stream, dashboards).
 * Best effort by design: a missed publish loses no message; durable delivery (webhooks) reads
 * from its own queue.
 */
export class EventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async publish<T>(type: EventType, session: string, data: T): Promise<GatewayEvent<T>> {
    const event: GatewayEvent<T> = {
      id: `evt_${randomUUID()}`,
      type,
      session,
      timestamp: new Date().toISOString(),
      data,
    };
    await this.redis.publish(this.keys.eventsChannel(), JSON.stringify(event)).catch(() => 0);
    return event;
  }
}
