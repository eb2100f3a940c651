import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/core';

/** One message the simulated WhatsApp servers recorded as sent. */
export interface OutboxEntry {
  messageId: string;
  waMessageId: string;
  to: string;
  text: string;
  at: string;
}

/**
 * The read side of the simulator's outbox: what `GET …/simulator/outbox` shows. It only reads
 * the list by its key, so the gateway can answer without loading driver code; the simulator
 * driver owns writing it (`drivers/simulator/simulator-outbox.ts`).
 */
export class SimulatorOutboxReader {
  constructor(
    protected readonly redis: Redis,
    protected readonly keys: RedisKeys,
  ) {}

  /** The entry recorded for one of our messages, or null. */
  async find(sessionId: string, messageId: string): Promise<OutboxEntry | null> {
    const json = await this.redis.hget(this.keys.simulatorOutboxIndex(sessionId), messageId);
    return json ? (JSON.parse(json) as OutboxEntry) : null;
  }

  /** Every entry, in send order. */
  async list(sessionId: string): Promise<OutboxEntry[]> {
    const items = await this.redis.lrange(this.keys.simulatorOutbox(sessionId), 0, -1);
    return items.map((s) => JSON.parse(s) as OutboxEntry);
  }
}
