import type { Redis } from 'ioredis';
import { defineLuaCommand, RedisKeys, type LuaCommand } from '@app/core';
import {
  MessageStore,
  type MessageStatus,
  type SendMessageJob,
  type TransitionRequest,
  type TransitionResult,
} from '@app/queue';
import type { AckEvent, AckStatus } from '@app/session';
import { AckIndex } from './ack-index';

/** What a send run reads of a record when it starts (its moves are fenced on `attemptId`). */
export interface RecordSnapshot {
  status: MessageStatus | null;
  attemptId: string | null;
  chatId: string | null;
  crashes: number;
  /** The open send intent, read with the record (same slot, same pipeline). */
  intent: SendIntent | null;
}

/** An open send intent: an attempt whose outcome is not known yet. */
export interface SendIntent {
  attemptId: string;
  startedAt: number | null;
  chatId: string | null;
}

/**
 * What a send starts from: the record's status, attemptId, chatId, crashes ('' = absent) and
 * its send intent as field/value pairs. KEYS: record, send intent (one slot).
 */
const READ_FOR_SEND_LUA = `
local f = redis.call('HMGET', KEYS[1], 'status', 'attemptId', 'chatId', 'crashes')
return {f[1] or '', f[2] or '', f[3] or '', f[4] or '', redis.call('HGETALL', KEYS[2])}
`;

/** Sent messages whose WhatsApp id a worker keeps in memory for their acks (~2 MB). */
const RECENT_SENDS = 10_000;

/** What each ack does to a record: it only moves forward (`read` never goes back). */
const ACK_TRANSITION: Record<AckStatus, (at: string) => TransitionRequest> = {
  delivered: (at) => ({ to: 'delivered', from: ['sent'], fields: { deliveredAt: at } }),
  read: (at) => ({ to: 'read', from: ['sent', 'delivered'], fields: { readAt: at } }),
  failed: () => ({
    to: 'failed',
    from: ['sent'],
    error: {
      code: 'ACK_ERROR',
      message: 'WhatsApp reported the message as not delivered (ack -1)',
    },
  }),
};

/**
 * The worker's one door to message records: the send path, acks and the consistency settler
 * change a status only here.
 *
 * A status change is a compare-and-set (`MessageStore.transition`), which records the change's
 * `message.status` event in the same step (only for a change that applied and moved the status:
 * a re-run's `sending → sending` is not one) and moves it to the event stream.
 */
export class MessageStatusService {
  private readonly acks: AckIndex;
  private readonly readForSend: LuaCommand<
    [record: string, intent: string],
    [string, string, string, string, string[]]
  >;
  /**
   * WhatsApp id → message id of the messages this worker marked sent last (`session:waId`,
   * oldest first, at most {@link RECENT_SENDS}): most acks come within seconds of their send, and
   * find their message here instead of asking the index in Redis (one round trip per ack less).
   * It holds what this worker has just written to that index (after a `sent` it won), and the
   * index never maps a WhatsApp id to another message, so an ack goes to the same message
   * either way; an ack that comes before its send was indexed is not here (nothing was written
   * yet) and goes through the index, which keeps it for the send to apply.
   */
  private readonly recentSends = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly messages: MessageStore,
    retentionSeconds: number,
  ) {
    this.acks = new AckIndex(redis, keys, retentionSeconds);
    this.readForSend = defineLuaCommand(redis, 'waSendRead', {
      numberOfKeys: 2,
      lua: READ_FOR_SEND_LUA,
    });
  }

  /** Changes a message's status (compare-and-set); its event is recorded with it. */
  async transition(
    sessionId: string,
    messageId: string,
    req: TransitionRequest,
  ): Promise<TransitionResult> {
    return this.messages.transition(messageId, { ...req, session: sessionId });
  }

  /** An ack from the driver: applied to its message, or kept until the send indexes its id. */
  async applyAck(sessionId: string, ev: AckEvent): Promise<void> {
    const messageId =
      this.recentSends.get(`${sessionId}:${ev.waMessageId}`) ??
      (await this.acks.route(sessionId, ev));
    if (messageId) await this.ack(sessionId, messageId, ev.waMessageId, ev.status);
  }

  /** Indexes a sent message's WhatsApp id; an ack that came first applies now. */
  async indexSent(sessionId: string, waMessageId: string, messageId: string): Promise<void> {
    await this.applyEarly(
      sessionId,
      waMessageId,
      messageId,
      await this.acks.index(sessionId, waMessageId, messageId),
    );
  }

  /**
   * Moves a message to `sent` (compare-and-set, `req`) and indexes its WhatsApp id. On one Redis
   * both are one step (the transition's script; one round trip instead of two), under Cluster
   * the index follows (another slot), as {@link indexSent}. Either way an ack that came first
   * applies once the message is `sent`, and a run that lost its compare-and-set (`fenced`: another
   * attempt owns the message) indexes nothing.
   */
  async markSent(
    sessionId: string,
    messageId: string,
    waMessageId: string,
    req: TransitionRequest,
  ): Promise<TransitionResult> {
    const t = await this.transition(sessionId, messageId, {
      ...req,
      index: this.acks.indexKeys(sessionId, waMessageId),
    });
    if (t.fenced) return t;
    this.rememberSent(sessionId, waMessageId, messageId);
    if (t.earlyAck !== undefined) {
      await this.applyEarly(sessionId, waMessageId, messageId, AckIndex.earlyStatus(t.earlyAck));
    } else {
      await this.indexSent(sessionId, waMessageId, messageId);
    }
    return t;
  }

  private rememberSent(sessionId: string, waMessageId: string, messageId: string): void {
    this.recentSends.set(`${sessionId}:${waMessageId}`, messageId);
    if (this.recentSends.size > RECENT_SENDS) {
      this.recentSends.delete(this.recentSends.keys().next().value as string);
    }
  }

  private async applyEarly(
    sessionId: string,
    waMessageId: string,
    messageId: string,
    early: AckStatus | null,
  ): Promise<void> {
    if (!early) return;
    await this.ack(sessionId, messageId, waMessageId, early);
    await this.acks.forgetEarly(sessionId, waMessageId);
  }

  /** The message a WhatsApp id is recorded for (reconciliation never claims another's id). */
  ownerOf(sessionId: string, waMessageId: string): Promise<string | null> {
    return this.acks.ownerOf(sessionId, waMessageId);
  }

  /**
   * The record's fields a send starts from and its open intent: one script on the message's
   * slot (one command, one socket write; reads only, each as if read alone). Not an ioredis
   * pipeline: each pipeline copies every Lua command defined on the connection (dozens on the
   * worker's), which cost more CPU per send than the second command it saves.
   */
  async read(messageId: string): Promise<RecordSnapshot> {
    const [status, attemptId, chatId, crashes, intent] = await this.readForSend(
      this.keys.message(messageId),
      this.keys.sendIntent(messageId),
    );
    const i: Record<string, string> = {};
    for (let k = 0; k + 1 < intent.length; k += 2) i[intent[k]] = intent[k + 1];
    return {
      status: (status || null) as MessageStatus | null,
      attemptId: attemptId || null,
      chatId: chatId || null,
      crashes: Number(crashes || 0),
      intent: i.attemptId
        ? {
            attemptId: i.attemptId,
            startedAt: i.startedAt ? Number(i.startedAt) : null,
            chatId: i.chatId || null,
          }
        : null,
    };
  }

  async attemptOf(messageId: string): Promise<string | null> {
    return (await this.messages.fields(messageId, 'attemptId')).attemptId;
  }

  /** Writes the record of a job whose record is gone (see `SendMessageJob.version`). */
  recreate(job: SendMessageJob): Promise<void> {
    return this.messages.create(job, job.chatId);
  }

  forgetExpiry(messageId: string): Promise<void> {
    return this.messages.forgetExpiry([messageId]);
  }

  private async ack(
    sessionId: string,
    messageId: string,
    waMessageId: string,
    status: AckStatus,
  ): Promise<void> {
    const req = ACK_TRANSITION[status](new Date().toISOString());
    await this.transition(sessionId, messageId, req);
  }
}
