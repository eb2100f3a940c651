import { randomUUID } from 'node:crypto';
import { DelayedError, Job, Queue, RateLimitError, UnrecoverableError, WaitingError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RedisKeys, withTimeout } from '@app/core';
import {
  FINAL_STATUSES,
  MessageStore,
  SEND_JOB_VERSION,
  type MessageStatus,
  type SendMessageJob,
  type TransitionRequest,
} from '@app/queue';
import {
  classifyError,
  SessionDriverError,
  SessionErrorCode,
  type FoundMessage,
  type OutgoingMessage,
  type SessionDriver,
} from '@app/session';
import { AckRouter } from './acks';
import type { Pacing } from './pacing';
import type { NumberChecker } from './number-check';

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

/**
 * Unknown outcomes that mean the session itself is broken (hung or crashed page). Except for
 * CONFLICT (another client took the account over: not this message's doing), each counts as a
 * crash against the message in flight: a message that crashes the browser every time it is sent
 * must not hold its session's queue for ever.
 */
const SESSION_LOSS_CODES: ReadonlySet<string> = new Set<string>([
  SessionErrorCode.SendTimeout,
  SessionErrorCode.BrowserCrashed,
  SessionErrorCode.SessionClosed,
  SessionErrorCode.FrameDetached,
  SessionErrorCode.OutOfMemory,
  SessionErrorCode.Conflict,
]);

/** A message found pending in WhatsApp Web's local store is looked for again this often ... */
const PENDING_RECHECK_MS = 30_000;
/** ... until its send began this long ago: then it is failed, not resent (see README). */
const PENDING_BOUND_MS = 60 * 60_000;

export interface SendServiceOptions {
  sendTimeoutMs: number;
  maxAttempts: number;
  retentionSeconds: number;
  workerId: string;
  /** Overrides of the pending-message re-check (tests). */
  pendingRecheckMs?: number;
  pendingBoundMs?: number;
}

export type SendOutcome =
  | { result: 'sent'; waMessageId: string; reconciled: boolean }
  | { result: 'skipped'; status: string };

/**
 * Sends one message, exactly once: the message record is the guard against doing it twice,
 * and the send intent (written with the move to `sending`, removed once the outcome is known)
 * marks an attempt whose outcome is unknown, to be reconciled before anything is resent.
 *
 * Fencing: every record change a run makes is a compare-and-set on the record's `attemptId` as
 * the run saw it when it started (and, after its own move to `sending`, on its own attempt id).
 * A run that froze (SIGSTOP, long GC) while another took the job over finds another attempt id
 * and backs off without sending or touching the record.
 */
export class SendService {
  /** Routes acks to records; the send path applies acks that came before it indexed the id. */
  readonly acks: AckRouter;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly messages: MessageStore,
    private readonly numbers: NumberChecker,
    private readonly opts: SendServiceOptions,
    private readonly logger: Logger,
  ) {
    this.acks = new AckRouter(redis, keys, messages, opts.retentionSeconds);
  }

  async process(job: Job<SendMessageJob>, token: string, link: SessionLink): Promise<SendOutcome> {
    const data = job.data;
    const id = data.messageId;
    const log = this.logger.child({ sessionId: data.sessionId, messageId: id });

    // What this run saw when it started: its moves are conditional on it (fencing).
    const seen = await this.messages.fields(id, 'status', 'attemptId', 'chatId', 'crashes');
    const status = seen.status as MessageStatus | null;
    if (status === null) {
      if ((data.version ?? 1) >= SEND_JOB_VERSION) {
        // Records of this version live until final: this one was removed on purpose.
        log.warn('the message record is gone: the job is dropped, nothing is sent');
        return { result: 'skipped', status: 'missing' };
      }
      // A job written by an older version, whose record expired from its creation while it
      // waited (a session down for days): recreate the record, as that version promised.
      await this.messages.create(data, data.chatId);
    } else if (FINAL_STATUSES.includes(status)) {
      return { result: 'skipped', status };
    }
    const fence = seen.attemptId ?? '';

    const driver = link.readyDriver();
    if (!driver) return this.backToWait(job, token, link, null, log);

    // An earlier attempt may have sent it (worker killed mid-send, unknown outcome): ask first,
    // in the chat that attempt used (WhatsApp's canonical id).
    const intent = await this.redis.hgetall(this.keys.sendIntent(id));
    const outgoing = this.outgoing(
      data,
      intent.chatId || seen.chatId || data.chatId,
      intent.startedAt ? Number(intent.startedAt) : Date.now(),
    );
    if (intent.attemptId) {
      const found = await this.reconcile(driver, outgoing, link, job, token, log, fence);
      if (found) return found;
      // Not sent. A message whose sends crashed the session again and again is failed here,
      // after reconciling, so the session's other messages move on.
      const crashes = Number(seen.crashes ?? 0);
      if (crashes >= this.opts.maxAttempts) {
        return this.handleFailure(
          new SessionDriverError(
            SessionErrorCode.SendCrashedSession,
            'permanent',
            `the session crashed during each of this message's last ${crashes} sends; it was not sent`,
          ),
          job,
          token,
          link,
          log,
          fence,
          false,
        );
      }
    }

    if (data.expiresAt && Date.parse(data.expiresAt) <= Date.now()) {
      const t = await this.messages.transition(id, {
        to: 'expired',
        from: '*',
        error: { code: 'EXPIRED', message: 'expiresAt passed before the message could be sent' },
        ifField: { name: 'attemptId', value: fence },
      });
      if (t.fenced) return this.superseded(job, token, log);
      await this.messages.forgetExpiry([id]);
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
      // WhatsApp's canonical id may differ from the dialled number (e.g. Brazil's ninth digit):
      // it is the chat we send to, store on the record and in the intent, and reconcile in.
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
        fence,
        false,
      );
    }

    // The move to `sending` and the send intent, in one compare-and-set on the attempt id this
    // run saw at its start: a run that woke up late (another took the job over meanwhile) loses.
    const attemptId = randomUUID();
    const startedAt = Date.now();
    const begun = await this.messages.transition(id, {
      to: 'sending',
      from: ['queued', 'sending'],
      error: null,
      fields: { attemptId, chatId: outgoing.chatId },
      ifField: { name: 'attemptId', value: fence },
      increment: 'attempts',
      intent: {
        attemptId,
        startedAt: String(startedAt),
        chatId: outgoing.chatId,
        contentHash: data.contentHash,
        workerId: this.opts.workerId,
      },
    });
    if (begun.fenced) return this.superseded(job, token, log);
    if (!begun.applied) return { result: 'skipped', status: begun.previous ?? 'missing' };

    // Fencing, checked as late as possible before the driver call: a worker frozen past its
    // lease (SIGSTOP, a long pause) must not send for a session another worker owns now, and a
    // run frozen after its move to `sending` must not send once another attempt took over.
    if (!(await link.holdsLease())) {
      log.warn('lease lost: not sending; the job returns to the queue for the new owner');
      await this.messages.transition(id, {
        to: 'queued',
        from: ['sending'],
        ifField: { name: 'attemptId', value: attemptId },
        intent: null,
      });
      await job.moveToWait(token).catch(() => undefined);
      throw new WaitingError();
    }
    const { attemptId: current } = await this.messages.fields(id, 'attemptId');
    if (current !== attemptId) return this.superseded(job, token, log);

    log.info({ attemptId, chatId: outgoing.chatId }, 'sending');
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
        attemptId,
        true,
      );
    }
    if (!(await this.markSent(data, result.waMessageId, result.at, link, attemptId))) {
      log.warn(
        { waMessageId: result.waMessageId },
        'sent, but another attempt had taken the message over: the record is left to it',
      );
      return this.superseded(job, token, log);
    }
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
    fence: string,
  ): Promise<SendOutcome | null> {
    const sessionId = job.data.sessionId;
    let found: FoundMessage | null;
    try {
      found = await withTimeout(
        driver.findSent(outgoing, {
          // Never claim a WhatsApp id recorded for another of our messages.
          isClaimed: async (waMessageId) => {
            const owner = await this.redis.get(this.keys.waMessage(sessionId, waMessageId));
            return owner !== null && owner !== outgoing.messageId;
          },
        }),
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
      return this.handleFailure(
        classifyError(err, { duringSend: false }),
        job,
        token,
        link,
        log,
        fence,
        false,
      );
    }
    if (!found) {
      // The move to `sending` replaces the intent; until then it stays (a re-run asks again).
      log.info('reconciled: the earlier attempt did not send; sending now');
      return null;
    }
    if (found.pending) return this.pending(found, outgoing, job, token, link, log, fence);
    log.info({ waMessageId: found.waMessageId }, 'reconciled: the earlier attempt had sent it');
    if (!(await this.markSent(job.data, found.waMessageId, found.at, link, fence))) {
      return this.superseded(job, token, log);
    }
    return { result: 'sent', waMessageId: found.waMessageId, reconciled: true };
  }

  /**
   * The earlier attempt's message sits in WhatsApp Web's local store, not yet taken by the
   * server (ack 0): resending would duplicate it once that store sends it, and marking it sent
   * would be a lie. Look again later without using an attempt; past the bound, fail it.
   */
  private async pending(
    found: FoundMessage,
    outgoing: OutgoingMessage,
    job: Job<SendMessageJob>,
    token: string,
    link: SessionLink,
    log: Logger,
    fence: string,
  ): Promise<never> {
    const bound = this.opts.pendingBoundMs ?? PENDING_BOUND_MS;
    if (Date.now() - outgoing.attemptStartedAt >= bound) {
      return this.handleFailure(
        new SessionDriverError(
          SessionErrorCode.SendUnconfirmed,
          'permanent',
          `WhatsApp Web still holds the message unsent ${Math.round(bound / 60000)} min after the send began; ` +
            'it is not resent (that would duplicate it if the browser sends it later)',
        ),
        job,
        token,
        link,
        log,
        fence,
        false,
      );
    }
    const recheck = this.opts.pendingRecheckMs ?? PENDING_RECHECK_MS;
    log.info(
      { waMessageId: found.waMessageId, recheckMs: recheck },
      'reconciled: the message waits in the local store for the server (ack 0); checking again later',
    );
    await job.moveToDelayed(Date.now() + recheck, token);
    throw new DelayedError();
  }

  /** Marks the message sent and indexes its WhatsApp id; false when another attempt owns it. */
  private async markSent(
    data: SendMessageJob,
    waMessageId: string,
    at: string,
    link: SessionLink,
    fence: string,
  ): Promise<boolean> {
    const t = await this.messages.transition(data.messageId, {
      to: 'sent',
      from: ['queued', 'sending'],
      error: null,
      fields: { waMessageId, sentAt: at },
      ifField: { name: 'attemptId', value: fence },
      intent: null,
    });
    if (t.fenced) return false;
    // Another slot (the session's): indexes the id and applies an ack that came first.
    await this.acks.indexSent(data.sessionId, waMessageId, data.messageId);
    await this.messages.forgetExpiry([data.messageId]);
    await link.pacing.recordSend(data.messageId);
    return true;
  }

  /**
   * Applies the failure class: permanent fails the message, retryable uses an attempt, session
   * and unknown outcome put the job back without using one. Every change is fenced on `fence`
   * (the attempt id this run owns or saw).
   */
  private async handleFailure(
    err: SessionDriverError,
    job: Job<SendMessageJob>,
    token: string,
    link: SessionLink,
    log: Logger,
    fence: string,
    attempted: boolean,
  ): Promise<never> {
    const id = job.data.messageId;
    const error = { code: err.code, message: err.message };
    const change = (req: TransitionRequest) =>
      this.messages.transition(id, { ...req, ifField: { name: 'attemptId', value: fence } });
    switch (err.failure) {
      case 'permanent': {
        const t = await change({ to: 'failed', from: '*', error, intent: null });
        if (t.fenced) return this.superseded(job, token, log);
        log.warn({ code: err.code }, 'message failed permanently');
        await this.stripContent(job, log);
        throw new UnrecoverableError(`${err.code}: ${err.message}`);
      }
      case 'retryable': {
        const last = job.attemptsMade + 1 >= this.opts.maxAttempts;
        const t = await change({ to: last ? 'failed' : 'queued', from: '*', error, intent: null });
        if (t.fenced) return this.superseded(job, token, log);
        log.warn({ code: err.code, attempt: job.attemptsMade + 1, last }, 'send failed');
        link.noteSend({ ok: false, code: err.code });
        if (last) await this.stripContent(job, log);
        throw last ? new UnrecoverableError(`${err.code}: ${err.message}`) : err;
      }
      case 'session': {
        const t = await change({
          to: 'queued',
          from: ['sending'],
          error,
          intent: attempted ? null : undefined,
        });
        if (t.fenced) return this.superseded(job, token, log);
        return this.backToWait(job, token, link, err, log);
      }
      case 'unknown_outcome': {
        // The intent stays open: the next run reconciles before it may send again.
        if (SESSION_LOSS_CODES.has(err.code)) {
          if (attempted && err.code !== String(SessionErrorCode.Conflict)) {
            const t = await change({
              to: 'sending',
              from: ['sending'],
              error,
              increment: 'crashes',
            });
            if (t.fenced) return this.superseded(job, token, log);
            log.warn(
              { code: err.code, crashes: t.counter },
              'the session was lost during the send; outcome unknown, will reconcile when it is healthy',
            );
          } else {
            log.warn(
              { code: err.code },
              'send outcome unknown; will reconcile when the session is healthy',
            );
          }
          return this.backToWait(job, token, link, err, log);
        }
        // The session is fine but the library could not say (wwebjs#201857) and the message
        // was not found yet: retry with backoff (an attempt), reconciling first.
        const last = job.attemptsMade + 1 >= this.opts.maxAttempts;
        const t = await change({ to: last ? 'failed' : 'sending', from: '*', error });
        if (t.fenced) return this.superseded(job, token, log);
        log.warn(
          { code: err.code, attempt: job.attemptsMade + 1, last },
          'send result unknown; will reconcile',
        );
        link.noteSend({ ok: false, code: err.code });
        if (last) await this.stripContent(job, log);
        throw last ? new UnrecoverableError(`${err.code}: ${err.message}`) : err;
      }
    }
  }

  /**
   * Another run took this message over while this one was frozen (its lease or job lock lapsed):
   * back off without sending and without touching the record. The job goes back to the queue
   * if this run still holds it; otherwise moveToWait fails on the lock and the other run has it.
   */
  private async superseded(job: Job<SendMessageJob>, token: string, log: Logger): Promise<never> {
    log.warn('another attempt took the message over while this run waited: not sending');
    await job.moveToWait(token).catch(() => undefined);
    throw new WaitingError();
  }

  /**
   * A failed job stays in BullMQ a while (Bull Board): its content (text, inline media) does not.
   * The record and the job's other fields still say what failed and why.
   */
  private async stripContent(job: Job<SendMessageJob>, log: Logger): Promise<void> {
    await job
      .updateData({ ...job.data, content: {} })
      .catch((err: unknown) => log.warn({ err }, 'could not strip the content of a failed job'));
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

  private outgoing(
    data: SendMessageJob,
    chatId: string,
    attemptStartedAt: number,
  ): OutgoingMessage {
    return {
      messageId: data.messageId,
      chatId,
      content: data.content,
      contentHash: data.contentHash,
      attemptStartedAt,
    };
  }
}
