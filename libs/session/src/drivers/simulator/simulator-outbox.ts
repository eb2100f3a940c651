import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/queue';

export interface OutboxEntry {
  messageId: string;
  waMessageId: string;
  to: string;
  text: string;
  at: string;
}

/**
 * What the simulated WhatsApp servers recorded as sent, in send order. Written at the instant a
 * message leaves, apart from any job state, so a worker killed right after a send shows as
 * "sent but not acknowledged", and a duplicate send shows as two entries.
 */
export class SimulatorOutbox {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async record(sessionId: string, entry: OutboxEntry): Promise<void> {
    const json = JSON.stringify(entry);
    // One MULTI (same hash tag): the list and the index never disagree.
    await this.redis
      .multi()
      .rpush(this.keys.simulatorOutbox(sessionId), json)
      .hset(this.keys.simulatorOutboxIndex(sessionId), entry.messageId, json)
      .exec();
  }

  async find(sessionId: string, messageId: string): Promise<OutboxEntry | null> {
    const json = await this.redis.hget(this.keys.simulatorOutboxIndex(sessionId), messageId);
    return json ? (JSON.parse(json) as OutboxEntry) : null;
  }

  async list(sessionId: string): Promise<OutboxEntry[]> {
    const items = await this.redis.lrange(this.keys.simulatorOutbox(sessionId), 0, -1);
    return items.map((s) => JSON.parse(s) as OutboxEntry);
  }

  async clear(sessionId: string): Promise<void> {
    await this.redis.del(
      this.keys.simulatorOutbox(sessionId),
      this.keys.simulatorOutboxIndex(sessionId),
    );
  }
}
