import { randomUUID } from 'node:crypto';
import { Job, Queue, RateLimitError, UnrecoverableError, WaitingError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { MessageStore, RedisKeys, type SendMessageJob, FINAL_STATUSES } from '@app/queue';
import {
  classifyError,
  SessionDriverError,
  SessionErrorCode,
  type OutgoingMessage,
  type SessionDriver,
} from '@app/session';
import type { Pacing } from './pacing';
import type { NumberChecker } from './number-check';
import { withTimeout } from './with-timeout';

/** What the send path needs from the session it sends for (implemented by SessionRuntime). */
export interface SessionLink {
  readonly sessionId: string;
  readonly queue: Queue;
  readonly pacing: Pacing;
  /** The driver, only while the session is `ready`. */
  readyDriver(): SessionDriver | null;
  /**
   * The session cannot send: with an error, it broke under this job (recovery starts); without,
   * it simply is not ready. Resolves once the queue's pause state matches the session's.
   */
  holdQueue(err: SessionDriverError | null): Promise<void>;
  /** True while this worker still holds the session's lease (fencing). */
  holdsLease(): Promise<boolean>;
  /** Send outcomes, for the circuit breaker on a run of identical errors. */
  noteSend(outcome: { ok: true } | { ok: false; code: string }): void;
}

/** Unknown outcomes that mean the session itself is broken (hung or crashed page). */
const SESSION_LOSS_CODES: ReadonlySet<string> = new Set<string>([
  SessionErrorCode.SendTimeout,
  SessionErrorCode.BrowserCrashed,
  SessionErrorCode.SessionClosed,
  SessionErrorCode.FrameDetached,
  SessionErrorCode.OutOfMemory,
  SessionErrorCode.Conflict,
]);

export interface SendServiceOptions {
  sendTimeoutMs: number;
  maxAttempts: number;
  retentionSeconds: number;
  workerId: string;
}

export type SendOutcome =
  | { result: 'sent'; waMessageId: string; reconciled: boolean }
  | { result: 'skipped'; status: string };

/**
 * Sends one message, exactly once: the message record is the guard against doing it twice,
 * and the send intent (written before the driver is called, removed once the outcome is known)
 * marks an attempt whose outcome is unknown, to be reconciled before anything is resent.
 */
export class SendService {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly messages: MessageStore,
    private readonly numbers: NumberChecker,
    private readonly opts: SendServiceOptions,
    private readonly logger: Logger,
  ) {}

  async process(job: Job<SendMessageJob>, token: string, link: SessionLink): Promise<SendOutcome> {
    const data = job.data;
    const log = this.logger.child({ sessionId: data.sessionId, messageId: data.messageId });

    const status = await this.messages.status(data.messageId);
    if (status === null) {
      // Retention lapsed while the job waited (a session down for days): recreate the record.
      await this.messages.create(data, data.chatId);
    } else if (FINAL_STATUSES.includes(status)) {
      return { result: 'skipped', status };
    }

    const driver = link.readyDriver();
    if (!driver) return this.backToWait(job, token, link, null, log);

    // An earlier attempt may have sent it (worker killed mid-send, unknown outcome): ask first.
    const intent = await this.redis.hgetall(this.keys.sendIntent(data.messageId));
    const outgoing = this.outgoing(data, intent.startedAt ? Number(intent.startedAt) : Date.now());
    if (intent.attemptId) {
      const found = await this.reconcile(driver, outgoing, link, job, token, log);
      if (found) return found;
    }

    if (data.expiresAt && Date.parse(data.expiresAt) <= Date.now()) {
      const t = await this.messages.transition(data.messageId, {
        to: 'expired',
        from: '*',
        error: { code: 'EXPIRED', message: 'expiresAt passed before the message could be sent' },
      });
      await this.messages.forgetExpiry([data.messageId]);
      log.info({ applied: t.applied }, 'message expired before sending');
      return { result: 'skipped', status: 'expired' };
    }

    const wait = await link.pacing.waitMs();
    if (wait > 0) {
      // Hand the pause to BullMQ's limiter: the job goes back to the front of the queue and no
      // lock is held while we wait.
      await link.queue.rateLimit(wait);
      throw new RateLimitError();
    }

    try {
      const check = await withTimeout(
        this.numbers.check(data.sessionId, data.chatId, driver),
        this.opts.sendTimeoutMs,
        () =>
          new SessionDriverError(
            'NUMBER_CHECK_TIMEOUT',
            'session',
            `the number check did not answer within SEND_TIMEOUT_MS (${this.opts.sendTimeoutMs} ms)`,
          ),
      );
      // WhatsApp's canonical id may differ from the dialled number (e.g. Brazil's ninth digit).
      outgoing.chatId = check.chatId;
      if (!check.onWhatsApp) {
        throw new SessionDriverError(
          SessionErrorCode.NotOnWhatsApp,
          'permanent',
          `${data.chatId.split('@')[0]} is not on WhatsApp`,
        );
      }
    } catch (err) {
      return this.handleFailure(
        classifyError(err, { duringSend: false }),
        job,
        token,
        link,
        log,
        false,
      );
    }

    // Fencing: a worker that was frozen past its lease (SIGSTOP, a long pause) must not send
    // for a session another worker owns now. The job goes back for the new owner.
    if (!(await link.holdsLease())) {
      log.warn('lease lost: not sending; the job returns to the queue for the new owner');
      await job.moveToWait(token);
      throw new WaitingError();
    }

    const attemptId = randomUUID();
    const startedAt = Date.now();
    const begun = await this.messages.transition(data.messageId, {
      to: 'sending',
      from: ['queued', 'sending'],
      error: null,
      fields: { attemptId },
    });
    if (!begun.applied) return { result: 'skipped', status: begun.previous ?? 'missing' };
    await this.messages.incrementAttempts(data.messageId);
    await this.redis
      .multi()
      .hset(this.keys.sendIntent(data.messageId), {
        attemptId,
        startedAt: String(startedAt),
        chatId: data.chatId,
        contentHash: data.contentHash,
        workerId: this.opts.workerId,
      })
      .expire(this.keys.sendIntent(data.messageId), this.opts.retentionSeconds)
      .exec();

    log.info({ attemptId, chatId: data.chatId }, 'sending');
    let result;
    try {
      result = await withTimeout(
        driver.send({ ...outgoing, attemptStartedAt: startedAt }),
        this.opts.sendTimeoutMs,
        () =>
          new SessionDriverError(
            SessionErrorCode.SendTimeout,
            'unknown_outcome',
            `the send did not settle within SEND_TIMEOUT_MS (${this.opts.sendTimeoutMs} ms)`,
          ),
      );
    } catch (err) {
      return this.handleFailure(
        classifyError(err, { duringSend: true }),
        job,
        token,
        link,
        log,
        true,
      );
    }
    await this.markSent(data, result.waMessageId, result.at, link);
    link.noteSend({ ok: true });
    log.info({ waMessageId: result.waMessageId }, 'sent');
    return { result: 'sent', waMessageId: result.waMessageId, reconciled: false };
  }

  private async reconcile(
    driver: SessionDriver,
    outgoing: OutgoingMessage,
    link: SessionLink,
    job: Job<SendMessageJob>,
    token: string,
    log: Logger,
  ): Promise<SendOutcome | null> {
    let found;
    try {
      found = await withTimeout(
        driver.findSent(outgoing),
        this.opts.sendTimeoutMs,
        () =>
          new SessionDriverError(
            SessionErrorCode.SendTimeout,
            'session',
            'reconciliation timed out',
          ),
      );
    } catch (err) {
      // Cannot tell whether it went out: never resend blind. Wait for a healthy session.
      await this.handleFailure(
        classifyError(err, { duringSend: false }),
        job,
        token,
        link,
        log,
        false,
      );
      return null; // not reached: handleFailure throws
    }
    if (!found) {
      log.info('reconciled: the earlier attempt did not send; sending now');
      await this.redis.del(this.keys.sendIntent(outgoing.messageId));
      return null;
    }
    log.info({ waMessageId: found.waMessageId }, 'reconciled: the earlier attempt had sent it');
    await this.markSent(job.data, found.waMessageId, found.at, link);
    return { result: 'sent', waMessageId: found.waMessageId, reconciled: true };
  }

  private async markSent(
    data: SendMessageJob,
    waMessageId: string,
    at: string,
    link: SessionLink,
  ): Promise<void> {
    await this.messages.transition(data.messageId, {
      to: 'sent',
      from: ['queued', 'sending'],
      error: null,
      fields: { waMessageId, sentAt: at },
    });
    // Two slots (the session's, the message's): two commands, not one MULTI (cluster-safe).
    await this.redis.set(
      this.keys.waMessage(data.sessionId, waMessageId),
      data.messageId,
      'EX',
      this.opts.retentionSeconds,
    );
    await this.redis.del(this.keys.sendIntent(data.messageId));
    await this.messages.forgetExpiry([data.messageId]);
    await link.pacing.recordSend(data.messageId);
  }

  /**
   * Applies the failure class: permanent fails the message, retryable uses an attempt, session
   * and unknown outcome put the job back without using one.
   */
  private async handleFailure(
    err: SessionDriverError,
    job: Job<SendMessageJob>,
    token: string,
    link: SessionLink,
    log: Logger,
    attempted: boolean,
  ): Promise<never> {
    const id = job.data.messageId;
    const error = { code: err.code, message: err.message };
    switch (err.failure) {
      case 'permanent':
        await this.redis.del(this.keys.sendIntent(id));
        await this.messages.transition(id, { to: 'failed', from: '*', error });
        log.warn({ code: err.code }, 'message failed permanently');
        throw new UnrecoverableError(`${err.code}: ${err.message}`);
      case 'retryable': {
        await this.redis.del(this.keys.sendIntent(id));
        const last = job.attemptsMade + 1 >= this.opts.maxAttempts;
        await this.messages.transition(id, { to: last ? 'failed' : 'queued', from: '*', error });
        log.warn({ code: err.code, attempt: job.attemptsMade + 1, last }, 'send failed');
        link.noteSend({ ok: false, code: err.code });
        throw last ? new UnrecoverableError(`${err.code}: ${err.message}`) : err;
      }
      case 'session':
        if (attempted) await this.redis.del(this.keys.sendIntent(id));
        await this.messages.transition(id, { to: 'queued', from: ['sending'], error });
        return this.backToWait(job, token, link, err, log);
      case 'unknown_outcome': {
        // The intent stays open: the next run reconciles before it may send again.
        if (SESSION_LOSS_CODES.has(err.code)) {
          log.warn(
            { code: err.code },
            'send outcome unknown; will reconcile when the session is healthy',
          );
          return this.backToWait(job, token, link, err, log);
        }
        // The session is fine but the library could not say (wwebjs#201857) and the message
        // was not found yet: retry with backoff (an attempt), reconciling first.
        const last = job.attemptsMade + 1 >= this.opts.maxAttempts;
        await this.messages.transition(id, { to: last ? 'failed' : 'sending', from: '*', error });
        log.warn(
          { code: err.code, attempt: job.attemptsMade + 1, last },
          'send result unknown; will reconcile',
        );
        link.noteSend({ ok: false, code: err.code });
        throw last ? new UnrecoverableError(`${err.code}: ${err.message}`) : err;
      }
    }
  }

  /** The session cannot send: pause its queue and return the job to the front, no attempt used. */
  private async backToWait(
    job: Job<SendMessageJob>,
    token: string,
    link: SessionLink,
    err: SessionDriverError | null,
    log: Logger,
  ): Promise<never> {
    await link.holdQueue(err);
    await job.moveToWait(token);
    log.info(
      { reason: err?.code ?? 'SESSION_NOT_READY' },
      'job returned to the queue until the session is ready',
    );
    throw new WaitingError();
  }

  private outgoing(data: SendMessageJob, attemptStartedAt: number): OutgoingMessage {
    return {
      messageId: data.messageId,
      chatId: data.chatId,
      content: data.content,
      contentHash: data.contentHash,
      attemptStartedAt,
    };
  }
}
