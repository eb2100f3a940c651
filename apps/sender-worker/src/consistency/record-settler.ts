import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RedisKeys } from '@app/core';
import { FINAL_STATUSES, MessageStore, type MessageError, type SendMessageJob } from '@app/queue';
import type { SessionDriver } from '@app/session';
import type { MessageStatusService } from '../outbound/message-status.service';
import { consistencyFixed } from './consistency.metrics';

export type SettleOutcome = 'final' | 'sent' | 'failed' | 'left';
export type SettleSource = 'listener' | 'checker';

/** `CODE: message`, as the send path words the errors it fails jobs with. */
const CODED = /^([A-Z][A-Z0-9_]{2,}): ([\s\S]*)$/;

/** A job's failedReason as the record's error. */
export function errorFromFailedReason(reason: string | undefined): MessageError {
  const m = CODED.exec(reason ?? '');
  if (m) return { code: m[1], message: m[2] };
  return {
    code: 'JOB_FAILED',
    message: reason ? `the queue failed the job: ${reason}` : 'the queue failed the job',
  };
}

/**
 * Ends the record of a message whose job ended without the send path ending it (BullMQ failed
 * the job: attempts from another config, an error that escaped the handler, maxStalledCount;
 * or the job vanished). A send intent still open means a send may have gone out: reconcile
 * through the driver first (found: `sent`), and without a ready driver leave it for the next
 * check. Every fix is counted (`{prefix}:stats` and wa_consistency_fixed_total).
 */
export class RecordSettler {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly messages: MessageStore,
    private readonly logger: Logger,
    private readonly status: MessageStatusService,
  ) {}

  async settle(
    sessionId: string,
    messageId: string,
    error: MessageError,
    opts: { driver: SessionDriver | null; job?: Job<SendMessageJob> | null; source: SettleSource },
  ): Promise<SettleOutcome> {
    const status = await this.messages.status(messageId);
    if (status === null || FINAL_STATUSES.includes(status)) {
      await this.forget(sessionId, messageId);
      return 'final';
    }
    const log = this.logger.child({ sessionId, messageId });
    const intent = await this.redis.hgetall(this.keys.sendIntent(messageId));
    if (intent.attemptId) {
      if (!opts.driver) return 'left'; // reconcile once the session is ready
      const found = await opts.driver.findSent(
        {
          messageId,
          chatId: intent.chatId ?? opts.job?.data.chatId ?? '',
          content: opts.job?.data.content ?? {},
          contentHash: intent.contentHash ?? opts.job?.data.contentHash ?? '',
          attemptStartedAt: Number(intent.startedAt ?? Date.now()),
        },
        {
          // Never claim a WhatsApp id recorded for another of our messages.
          isClaimed: async (waMessageId) => {
            const owner = await this.redis.get(this.keys.waMessage(sessionId, waMessageId));
            return owner !== null && owner !== messageId;
          },
        },
      );
      // Still in WhatsApp Web's local store: neither sent nor safe to fail yet; look again later.
      if (found?.pending) return 'left';
      if (found) {
        // Fenced on the attempt that wrote the intent, as the send path's own changes are.
        const t = await this.status.transition(sessionId, messageId, {
          to: 'sent',
          from: ['queued', 'sending'],
          error: null,
          fields: { waMessageId: found.waMessageId, sentAt: found.at },
          ifField: { name: 'attemptId', value: intent.attemptId },
          intent: null,
        });
        if (t.fenced) return 'left'; // another run took the message over: it settles it
        await this.status.indexSent(sessionId, found.waMessageId, messageId);
        if (t.applied) await this.count('sent', opts.source);
        await this.forget(sessionId, messageId);
        log.warn({ source: opts.source }, 'record settled: its job had ended; found sent');
        return t.applied ? 'sent' : 'final';
      }
      await this.redis.del(this.keys.sendIntent(messageId));
    }
    const t = await this.status.transition(sessionId, messageId, {
      to: 'failed',
      from: ['queued', 'sending'],
      error,
    });
    await this.messages.forgetExpiry([messageId]);
    await this.forget(sessionId, messageId);
    if (!t.applied) return 'final';
    await this.count('failed', opts.source);
    log.warn({ source: opts.source, code: error.code }, 'record settled: its job had ended');
    return 'failed';
  }

  /** Stamps a finished pass of the check. */
  async checked(at = new Date()): Promise<void> {
    await this.redis.hset(this.keys.stats(), 'consistencyLastRunAt', at.toISOString());
  }

  private async forget(sessionId: string, messageId: string): Promise<void> {
    await this.redis.zrem(this.keys.unfinished(sessionId), messageId);
  }

  private async count(outcome: 'sent' | 'failed', source: SettleSource): Promise<void> {
    consistencyFixed.inc({ outcome, source });
    await this.redis
      .multi()
      .hincrby(this.keys.stats(), 'consistencyFixed', 1)
      .hincrby(this.keys.stats(), `consistencyFixed:${outcome}`, 1)
      .exec();
  }
}
