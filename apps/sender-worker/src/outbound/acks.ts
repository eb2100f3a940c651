import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/core';
import type { MessageStore } from '@app/queue';
import type { AckEvent, AckStatus } from '@app/session';

/** whatsapp-web.js ack values: the highest one seen wins. */
const ACK_VALUE: Record<AckStatus, number> = { failed: -1, delivered: 2, read: 3 };
const STATUS_OF: Record<string, AckStatus> = { '-1': 'failed', '2': 'delivered', '3': 'read' };

/** Early acks wait this long for their send to return (a send settles within SEND_TIMEOUT_MS). */
const EARLY_ACK_TTL_S = 15 * 60;

/**
 * KEYS: wa index, early ack (one slot). ARGV: ack value, ttl. Returns our message id, or keeps
 * the ack (highest wins) when the WhatsApp id is not indexed yet and returns nil.
 */
const ROUTE_LUA = `
local id = redis.call('GET', KEYS[1])
if id then return id end
local cur = redis.call('GET', KEYS[2])
if (not cur) or tonumber(ARGV[1]) > tonumber(cur) then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
end
return false
`;

/** KEYS: wa index, early ack. ARGV: message id, ttl. Indexes; returns an early ack or nil. */
const INDEX_LUA = `
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return redis.call('GET', KEYS[2])
`;

/**
 * Routes delivery receipts to message records through the WhatsApp id → message id index.
 * whatsapp-web.js can report an ack before `sendMessage` resolves, i.e. before the send path
 * has indexed the id: such an ack is kept (Redis, short TTL, highest wins) and applied when the
 * id is indexed. Indexing and routing are Lua scripts on the session's slot, so an ack is
 * either found by the index or kept for it, never dropped in between.
 */
export class AckRouter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly messages: MessageStore,
    private readonly retentionSeconds: number,
  ) {}

  /** An ack from the driver. */
  async route(sessionId: string, ev: AckEvent): Promise<void> {
    const messageId = (await this.redis.eval(
      ROUTE_LUA,
      2,
      this.keys.waMessage(sessionId, ev.waMessageId),
      this.keys.earlyAck(sessionId, ev.waMessageId),
      ACK_VALUE[ev.status],
      EARLY_ACK_TTL_S,
    )) as string | null;
    if (messageId) await this.apply(messageId, ev.status);
  }

  /** The send path indexes a sent message's WhatsApp id; an ack that came first applies now. */
  async indexSent(sessionId: string, waMessageId: string, messageId: string): Promise<void> {
    const early = this.keys.earlyAck(sessionId, waMessageId);
    const value = (await this.redis.eval(
      INDEX_LUA,
      2,
      this.keys.waMessage(sessionId, waMessageId),
      early,
      messageId,
      this.retentionSeconds,
    )) as string | null;
    const status = value === null ? undefined : STATUS_OF[value];
    if (!status) return;
    await this.apply(messageId, status);
    await this.redis.del(early);
  }

  private async apply(messageId: string, status: AckStatus): Promise<void> {
    const now = new Date().toISOString();
    if (status === 'delivered') {
      await this.messages.transition(messageId, {
        to: 'delivered',
        from: ['sent'],
        fields: { deliveredAt: now },
      });
    } else if (status === 'read') {
      await this.messages.transition(messageId, {
        to: 'read',
        from: ['sent', 'delivered'],
        fields: { readAt: now },
      });
    } else {
      await this.messages.transition(messageId, {
        to: 'failed',
        from: ['sent'],
        error: {
          code: 'ACK_ERROR',
          message: 'WhatsApp reported the message as not delivered (ack -1)',
        },
      });
    }
  }
}
