import type { Redis } from 'ioredis';
import { defineLuaCommand, type LuaCommand, type RedisKeys } from '@app/core';
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
 * The WhatsApp id → message id index of one deployment, and the acks that came before their
 * id was indexed. whatsapp-web.js can report an ack before `sendMessage` resolves, i.e. before
 * the send path has indexed the id: such an ack is kept (Redis, short TTL, highest wins) and
 * handed back when the id is indexed. Indexing and routing are Lua scripts on the session's
 * slot, so an ack is either found by the index or kept for it, never dropped in between.
 *
 * Only Redis plumbing: what an ack does to a record is `MessageStatusService`'s business.
 */
export class AckIndex {
  // EVALSHA, not EVAL: the script text is not sent (and hashed by Redis) with every ack and send.
  private readonly routeCommand: LuaCommand<
    [index: string, early: string, ack: number, ttl: number],
    string | null
  >;
  private readonly indexCommand: LuaCommand<
    [index: string, early: string, messageId: string, ttl: number],
    string | null
  >;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly retentionSeconds: number,
  ) {
    this.routeCommand = defineLuaCommand(redis, 'waAckRoute', { numberOfKeys: 2, lua: ROUTE_LUA });
    this.indexCommand = defineLuaCommand(redis, 'waAckIndex', { numberOfKeys: 2, lua: INDEX_LUA });
  }

  /** The message an ack is for; null when its id is not indexed yet (the ack is kept). */
  async route(sessionId: string, ev: AckEvent): Promise<string | null> {
    const messageId = await this.routeCommand(
      this.keys.waMessage(sessionId, ev.waMessageId),
      this.keys.earlyAck(sessionId, ev.waMessageId),
      ACK_VALUE[ev.status],
      EARLY_ACK_TTL_S,
    );
    return messageId || null;
  }

  /** Indexes a sent message's WhatsApp id; returns the ack that came first, if one did. */
  async index(
    sessionId: string,
    waMessageId: string,
    messageId: string,
  ): Promise<AckStatus | null> {
    const value = await this.indexCommand(
      this.keys.waMessage(sessionId, waMessageId),
      this.keys.earlyAck(sessionId, waMessageId),
      messageId,
      this.retentionSeconds,
    );
    return AckIndex.earlyStatus(value);
  }

  /**
   * The index keys of a WhatsApp id, for a caller that writes the index in a step of its own
   * (`MessageStore.transition`'s `index`, with the move to `sent`), as {@link index} would.
   */
  indexKeys(
    sessionId: string,
    waMessageId: string,
  ): { key: string; early: string; ttlSeconds: number } {
    return {
      key: this.keys.waMessage(sessionId, waMessageId),
      early: this.keys.earlyAck(sessionId, waMessageId),
      ttlSeconds: this.retentionSeconds,
    };
  }

  /** What an early-ack key held, as an ack status (null: none). */
  static earlyStatus(value: string | null | undefined): AckStatus | null {
    return (value !== null && value !== undefined && STATUS_OF[value]) || null;
  }

  /** Drops an early ack once it has been applied. */
  async forgetEarly(sessionId: string, waMessageId: string): Promise<void> {
    await this.redis.del(this.keys.earlyAck(sessionId, waMessageId));
  }

  /** The message a WhatsApp id is recorded for, if any. */
  ownerOf(sessionId: string, waMessageId: string): Promise<string | null> {
    return this.redis.get(this.keys.waMessage(sessionId, waMessageId));
  }
}
