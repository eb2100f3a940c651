import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/queue';

export interface OutboxEntry {
  messageId: string;
  waMessageId: string;
  to: string;
  text: string;
  at: string;
}

/** KEYS: list, index, sends. ARGV: send id, message id, entry JSON. Same slot (hash tag). */
const RECORD_LUA = `
if redis.call('HSETNX', KEYS[3], ARGV[1], '1') == 0 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
`;

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

  /**
   * Records one send. `sendId` names this send: the same command delivered twice (ioredis
   * resends a command whose reply was lost when Redis died) records once, as WhatsApp's servers
   * would see one message; two sends of one message record twice.
   */
  async record(sessionId: string, sendId: string, entry: OutboxEntry): Promise<void> {
    await this.redis.eval(
      RECORD_LUA,
      3,
      this.keys.simulatorOutbox(sessionId),
      this.keys.simulatorOutboxIndex(sessionId),
      this.keys.simulatorOutboxSends(sessionId),
      sendId,
      entry.messageId,
      JSON.stringify(entry),
    );
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
      this.keys.simulatorOutboxSends(sessionId),
    );
  }
}
