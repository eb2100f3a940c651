import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { withTimeout } from '@app/core';
import {
  FINAL_STATUSES,
  SEND_JOB_VERSION,
  type SendMessageJob,
  type TransitionRequest,
  type TransitionResult,
} from '@app/queue';
import {
  classifyError,
  SessionDriverError,
  SessionErrorCode,
  type FoundMessage,
  type NumberCheck,
  type OutgoingMessage,
  type SessionDriver,
} from '@app/session';
import type { RecordSnapshot } from './message-status.service';

/**
 * What one run of the send protocol ended with. The protocol decides; the processor adapter
 * (`send.processor.ts`) tells BullMQ.
 */
export type SendOutcome =
  /** Sent now. */
  | { kind: 'sent'; waMessageId: string }
  /** An earlier attempt had sent it: recorded, not resent. */
  | { kind: 'reconciled'; waMessageId: string }
  /** Nothing to do: the message is final, expired now, or its record is gone. */
  | { kind: 'skipped'; status: string }
  /**
   * Back to the queue, no attempt used. `not-ready` / `session`: the session cannot send (with
   * `error`, it broke under this run: recovery starts). `lease-lost`: another worker owns the
   * session now. `superseded`: another run took the message over while this one was frozen.
   */
  | { kind: 'wait'; reason: 'not-ready' | 'lease-lost' | 'superseded' }
  /**
   * `driver`: the one the run used, if it got that far. Its loss counts only while it is still
   * the session's driver: one replaced since (a relaunch stopped it, and that made this run
   * fail) is old news.
   */
  | { kind: 'wait'; reason: 'session'; error: SessionDriverError; driver?: SessionDriver }
  /** Pacing: the session may send again in `ms`. */
  | { kind: 'rate-limited'; ms: number }
  /** An earlier attempt's message waits in WhatsApp Web's local store: look again in `ms`. */
  | { kind: 'pending-recheck'; ms: number }
  /** Failed this time, may succeed later: uses an attempt (backoff). */
  | { kind: 'retry'; error: SessionDriverError }
  /** The message failed for good (its record says why). */
  | { kind: 'fail'; error: SessionDriverError };

/** The message's record as the send path reads and changes it (`MessageStatusService`). */
export interface MessageRecords {
  /** The record's fields a send starts from, with its open intent (one round trip). */
  read(messageId: string): Promise<RecordSnapshot>;
  /**
   * The record's current attempt id (the last fencing check before the driver call where the
   * move to `sending` could not check the lease in its own step: Redis Cluster).
   */
  attemptOf(messageId: string): Promise<string | null>;
  recreate(job: SendMessageJob): Promise<void>;
  /** Compare-and-set of the status (with the send intent, in the same step). */
  transition(
    sessionId: string,
    messageId: string,
    req: TransitionRequest,
  ): Promise<TransitionResult>;
  forgetExpiry(messageId: string): Promise<void>;
  /**
   * The compare-and-set to `sent` (`req`) and the WhatsApp id's index (an ack that came first
   * applies then), in one step where Redis allows it; nothing is indexed when `fenced`.
   */
  markSent(
    sessionId: string,
    messageId: string,
    waMessageId: string,
    req: TransitionRequest,
  ): Promise<TransitionResult>;
}

/** What reconciliation reads: which message a WhatsApp id belongs to. */
export interface SendIntents {
  ownerOf(sessionId: string, waMessageId: string): Promise<string | null>;
}

/** "Is this number on WhatsApp, under which chat id?" (cached: `NumberChecker`). */
export interface NumberLookup {
  /**
   * `cached`: what {@link cachedCheck} answered earlier in this run (null = not cached), so the
   * cache is not read twice; undefined = read it now.
   */
  check(
    sessionId: string,
    chatId: string,
    driver: SessionDriver,
    cached?: NumberCheck | null,
  ): Promise<NumberCheck>;
  /** The cached answer only (no driver call); read with the record, in the same round trip. */
  cachedCheck?(sessionId: string, chatId: string): Promise<NumberCheck | null>;
}

/** Per-account pacing (`Pacing`). */
export interface SendPacing {
  /** Milliseconds until the session may send; 0 = now. */
  waitMs(): Promise<number>;
  recordSend(messageId: string): Promise<void>;
}

/** What the protocol needs from the session it sends for (`SessionRuntime`). */
export interface SendSession {
  readonly sessionId: string;
  readonly pacing: SendPacing;
  /** The driver, only while the session is `ready`. */
  readyDriver(): SessionDriver | null;
  /** True while this worker still holds the session's lease (fencing). */
  holdsLease(): Promise<boolean>;
  /**
   * The session's lease as this worker holds it (its key and stored value): on one Redis the
   * move to `sending` checks it in its own step (`TransitionRequest.lease`).
   */
  readonly leaseFence: { key: string; value: string };
  /** Send outcomes, for the circuit breaker on a run of identical errors. */
  noteSend(outcome: { ok: true } | { ok: false; code: string }): void;
}

export interface SendProtocolOptions {
  sendTimeoutMs: number;
  maxAttempts: number;
  workerId: string;
  /** Overrides of the pending-message re-check (tests). */
  pendingRecheckMs?: number;
  pendingBoundMs?: number;
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

/** One run of the protocol: the job's data and what the run carries from step to step. */
interface Run {
  data: SendMessageJob;
  /** Attempts BullMQ has used before this run (retryable failures count them). */
  attemptsMade: number;
  session: SendSession;
  /** The driver the run sends with, once it has one (the session was ready). */
  driver?: SessionDriver;
  /** The run's logger (sessionId, messageId), made when a line is first logged. */
  readonly log: Logger;
}

/**
 * Sends one message, exactly once. The message record is the guard against doing it twice,
 * and the send intent (written with the move to `sending`, removed once the outcome is known)
 * marks an attempt whose outcome is unknown, to be reconciled before anything is resent.
 *
 * Steps, in order: read the record; skip a final one; wait for a ready session; reconcile an open
 * intent (and fail a message that crashed the session `maxAttempts` times); expire; pace; check
 * the number (canonical chat id); move to `sending` with a new intent (on one Redis checking the
 * lease in the same step; under Cluster re-check lease and attempt after it); call the driver
 * under SEND_TIMEOUT_MS; mark `sent`.
 *
 * Fencing: every record change a run makes is a compare-and-set on the record's `attemptId` as
 * the run saw it when it started (and, after its own move to `sending`, on its own attempt id).
 * A run that froze (SIGSTOP, long GC) while another took the job over finds another attempt id
 * and backs off without sending or touching the record.
 *
 * No queue here: each run returns a {@link SendOutcome}, which the processor maps to BullMQ.
 */
export class SendProtocol {
  constructor(
    private readonly records: MessageRecords,
    private readonly intents: SendIntents,
    private readonly numbers: NumberLookup,
    private readonly opts: SendProtocolOptions,
    private readonly logger: Logger,
  ) {}

  async run(
    data: SendMessageJob,
    attemptsMade: number,
    session: SendSession,
  ): Promise<SendOutcome> {
    const id = data.messageId;
    // The child logger is made only when this run logs beyond the happy path's line (which
    // names sessionId and messageId itself): a pino child per run was a cost on every send.
    let child: Logger | undefined;
    const parent = this.logger;
    const run: Run = {
      data,
      attemptsMade,
      session,
      get log() {
        return (child ??= parent.child({ sessionId: data.sessionId, messageId: id }));
      },
    };

    // What this run saw when it started: its moves are conditional on it (fencing). The open
    // intent (with the record) and the cached number check are read at the same time (one round
    // trip instead of three, issued back to back on one connection, so Redis runs them in this
    // order): reads only, each used exactly as if read at its own step below; the fencing is
    // unchanged, since every move is still a compare-and-set on `seen.attemptId`. The intent and
    // the number are read whether or not they turn out to be needed (a final record, a session
    // not ready).
    const [seen, cachedNumber] = await Promise.all([
      this.records.read(id),
      this.numbers.cachedCheck
        ? // A failed cache read is not this run's failure: the check reads it again below.
          this.numbers.cachedCheck(data.sessionId, data.chatId).catch(() => undefined)
        : Promise.resolve(undefined),
    ]);
    if (seen.status === null) {
      if ((data.version ?? 1) >= SEND_JOB_VERSION) {
        // Records of this version live until final: this one was removed on purpose.
        run.log.warn('the message record is gone: the job is dropped, nothing is sent');
        return { kind: 'skipped', status: 'missing' };
      }
      // A job written by an older version, whose record expired from its creation while it
      // waited (a session down for days): recreate the record, as that version promised.
      await this.records.recreate(data);
    } else if (FINAL_STATUSES.includes(seen.status)) {
      return { kind: 'skipped', status: seen.status };
    }
    const fence = seen.attemptId ?? '';

    const driver = session.readyDriver();
    if (!driver) return { kind: 'wait', reason: 'not-ready' };
    run.driver = driver;

    // An earlier attempt may have sent it (worker killed mid-send, unknown outcome): ask first,
    // in the chat that attempt used (WhatsApp's canonical id).
    const intent = seen.intent;
    const outgoing: OutgoingMessage = {
      messageId: id,
      chatId: intent?.chatId || seen.chatId || data.chatId,
      content: data.content,
      contentHash: data.contentHash,
      attemptStartedAt: intent?.startedAt ?? Date.now(),
    };
    if (intent) {
      const found = await this.reconcile(run, driver, outgoing, fence);
      if (found) return found;
      // Not sent. A message whose sends crashed the session again and again is failed here,
      // after reconciling, so the session's other messages move on.
      if (seen.crashes >= this.opts.maxAttempts) {
        const crashed = new SessionDriverError(
          SessionErrorCode.SendCrashedSession,
          'permanent',
          `the session crashed during each of this message's last ${seen.crashes} sends; it was not sent`,
        );
        return this.failure(run, crashed, fence, false);
      }
    }

    if (data.expiresAt && Date.parse(data.expiresAt) <= Date.now()) {
      const t = await this.records.transition(data.sessionId, id, {
        to: 'expired',
        from: '*',
        error: { code: 'EXPIRED', message: 'expiresAt passed before the message could be sent' },
        ifField: { name: 'attemptId', value: fence },
      });
      if (t.fenced) return this.superseded(run);
      await this.records.forgetExpiry(id);
      run.log.info({ applied: t.applied }, 'message expired before sending');
      return { kind: 'skipped', status: 'expired' };
    }

    const wait = await session.pacing.waitMs();
    if (wait > 0) return { kind: 'rate-limited', ms: wait };

    try {
      const check = await withTimeout(
        this.numbers.check(data.sessionId, data.chatId, driver, cachedNumber),
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
      return this.failure(run, classifyError(err, { duringSend: false }), fence, false);
    }

    // The move to `sending` and the send intent, in one compare-and-set on the attempt id this
    // run saw at its start: a run that woke up late (another took the job over meanwhile) loses.
    // On one Redis the same step also checks the session's lease (`lease`), so the move is the
    // last fencing check before the driver call: nothing is awaited between its answer and the
    // call (one round trip instead of three: move, lease, attempt). Why that keeps the fencing
    // (a frozen worker never sends for a session or an attempt another took over):
    // - frozen (SIGSTOP, GC) before the step runs: the step fails when another run took the
    //   message over (the attempt id differs from the one seen at start) or another worker
    //   holds the lease (a lapsed lease is never current again: a new claim has a new token),
    //   and it writes nothing then;
    // - after it: this run's attempt and lease were current when Redis ran the step, and only
    //   synchronous code runs before `driver.send` starts, as after the attempt re-check before
    //   (a freeze while the answer is on the way is the window that re-check's answer had too;
    //   what remains is the driver's part: a superseded client cannot send, see ARCHITECTURE).
    // Under Redis Cluster the lease is in another slot than the record: the lease and the
    // attempt are checked after the move, one after the other, as before.
    const attemptId = randomUUID();
    const startedAt = Date.now();
    const begun = await this.records.transition(data.sessionId, id, {
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
      lease: session.leaseFence,
    });
    if (begun.leaseLost) {
      // Refused before any write: the record and the open intent (if any) are the new owner's.
      run.log.warn('lease lost: not sending; the job returns to the queue for the new owner');
      return { kind: 'wait', reason: 'lease-lost' };
    }
    if (begun.fenced) return this.superseded(run);
    if (!begun.applied) return { kind: 'skipped', status: begun.previous ?? 'missing' };

    if (!begun.leaseChecked) {
      // Redis Cluster. Fencing, checked as late as possible before the driver call: a worker
      // frozen past its lease must not send for a session another worker owns now, and a run
      // frozen after its move to `sending` must not send once another attempt took over. The
      // two reads stay one after the other (not sent together, which would save a round trip):
      // the attempt is read after the lease answered, so a run frozen while waiting for the
      // lease check still finds the other attempt (send.processor.int-spec.ts, "frozen between
      // the move to sending and the driver call").
      if (!(await session.holdsLease())) {
        run.log.warn('lease lost: not sending; the job returns to the queue for the new owner');
        await this.records.transition(data.sessionId, id, {
          to: 'queued',
          from: ['sending'],
          ifField: { name: 'attemptId', value: attemptId },
          intent: null,
        });
        return { kind: 'wait', reason: 'lease-lost' };
      }
      if ((await this.records.attemptOf(id)) !== attemptId) return this.superseded(run);
    }

    // One line per sent message at info (below); this one only at debug. Both through the
    // parent logger with their own bindings: no child logger on the happy path.
    this.logger.debug(
      { sessionId: data.sessionId, messageId: id, attemptId, chatId: outgoing.chatId },
      'sending',
    );
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
      return this.failure(run, classifyError(err, { duringSend: true }), attemptId, true);
    }
    if (!(await this.markSent(run, result.waMessageId, result.at, attemptId))) {
      run.log.warn(
        { waMessageId: result.waMessageId },
        'sent, but another attempt had taken the message over: the record is left to it',
      );
      return this.superseded(run);
    }
    session.noteSend({ ok: true });
    this.logger.info(
      { sessionId: data.sessionId, messageId: id, attemptId, waMessageId: result.waMessageId },
      'sent',
    );
    return { kind: 'sent', waMessageId: result.waMessageId };
  }

  /** Asks the driver whether an earlier attempt sent the message; null = not sent, send now. */
  private async reconcile(
    run: Run,
    driver: SessionDriver,
    outgoing: OutgoingMessage,
    fence: string,
  ): Promise<SendOutcome | null> {
    const { data, log } = run;
    let found: FoundMessage | null;
    try {
      found = await withTimeout(
        driver.findSent(outgoing, {
          // Never claim a WhatsApp id recorded for another of our messages.
          isClaimed: async (waMessageId) => {
            const owner = await this.intents.ownerOf(data.sessionId, waMessageId);
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
      return this.failure(run, classifyError(err, { duringSend: false }), fence, false);
    }
    if (!found) {
      // The move to `sending` replaces the intent; until then it stays (a re-run asks again).
      log.info('reconciled: the earlier attempt did not send; sending now');
      return null;
    }
    if (found.pending) return this.pending(run, found.waMessageId, outgoing, fence);
    log.info({ waMessageId: found.waMessageId }, 'reconciled: the earlier attempt had sent it');
    if (!(await this.markSent(run, found.waMessageId, found.at, fence))) {
      return this.superseded(run);
    }
    return { kind: 'reconciled', waMessageId: found.waMessageId };
  }

  /**
   * The earlier attempt's message sits in WhatsApp Web's local store, not yet taken by the
   * server (ack 0): resending would duplicate it once that store sends it, and marking it sent
   * would be a lie. Look again later without using an attempt; past the bound, fail it.
   */
  private async pending(
    run: Run,
    waMessageId: string,
    outgoing: OutgoingMessage,
    fence: string,
  ): Promise<SendOutcome> {
    const bound = this.opts.pendingBoundMs ?? PENDING_BOUND_MS;
    if (Date.now() - outgoing.attemptStartedAt >= bound) {
      const unconfirmed = new SessionDriverError(
        SessionErrorCode.SendUnconfirmed,
        'permanent',
        `WhatsApp Web still holds the message unsent ${Math.round(bound / 60000)} min after the send began; ` +
          'it is not resent (that would duplicate it if the browser sends it later)',
      );
      return this.failure(run, unconfirmed, fence, false);
    }
    const recheck = this.opts.pendingRecheckMs ?? PENDING_RECHECK_MS;
    run.log.info(
      { waMessageId, recheckMs: recheck },
      'reconciled: the message waits in the local store for the server (ack 0); checking again later',
    );
    return { kind: 'pending-recheck', ms: recheck };
  }

  /** Marks the message sent and indexes its WhatsApp id; false when another attempt owns it. */
  private async markSent(
    run: Run,
    waMessageId: string,
    at: string,
    fence: string,
  ): Promise<boolean> {
    const { data, session } = run;
    // `sent` and the WhatsApp id's index in one step (one Redis; two under Cluster).
    const t = await this.records.markSent(data.sessionId, data.messageId, waMessageId, {
      to: 'sent',
      from: ['queued', 'sending'],
      error: null,
      fields: { waMessageId, sentAt: at },
      ifField: { name: 'attemptId', value: fence },
      intent: null,
    });
    if (t.fenced) return false;
    // Then, together (independent keys, and only what applies): the expiry index (only a
    // message with an expiresAt is in it) and pacing. Neither can undo the send or the record;
    // each ran after the record's change before, and still does.
    await Promise.all([
      data.expiresAt ? this.records.forgetExpiry(data.messageId) : undefined,
      session.pacing.recordSend(data.messageId),
    ]);
    return true;
  }

  /**
   * Applies the failure class: permanent fails the message, retryable uses an attempt, session
   * and unknown outcome put the job back without using one. Every change is fenced on `fence`
   * (the attempt id this run owns or saw); `attempted` says whether the driver was called.
   */
  private async failure(
    run: Run,
    err: SessionDriverError,
    fence: string,
    attempted: boolean,
  ): Promise<SendOutcome> {
    const { data, session, log } = run;
    const error = { code: err.code, message: err.message };
    const change = (req: TransitionRequest) =>
      this.records.transition(data.sessionId, data.messageId, {
        ...req,
        ifField: { name: 'attemptId', value: fence },
      });
    const last = run.attemptsMade + 1 >= this.opts.maxAttempts;
    switch (err.failure) {
      case 'permanent': {
        const t = await change({ to: 'failed', from: '*', error, intent: null });
        if (t.fenced) return this.superseded(run);
        log.warn({ code: err.code }, 'message failed permanently');
        return { kind: 'fail', error: err };
      }
      case 'retryable': {
        const t = await change({ to: last ? 'failed' : 'queued', from: '*', error, intent: null });
        if (t.fenced) return this.superseded(run);
        log.warn({ code: err.code, attempt: run.attemptsMade + 1, last }, 'send failed');
        session.noteSend({ ok: false, code: err.code });
        return last ? { kind: 'fail', error: err } : { kind: 'retry', error: err };
      }
      case 'session': {
        const t = await change({
          to: 'queued',
          from: ['sending'],
          error,
          intent: attempted ? null : undefined,
        });
        if (t.fenced) return this.superseded(run);
        return { kind: 'wait', reason: 'session', error: err, driver: run.driver };
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
            if (t.fenced) return this.superseded(run);
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
          return { kind: 'wait', reason: 'session', error: err, driver: run.driver };
        }
        // The session is fine but the library could not say (wwebjs#201857) and the message
        // was not found yet: retry with backoff (an attempt), reconciling first.
        const t = await change({ to: last ? 'failed' : 'sending', from: '*', error });
        if (t.fenced) return this.superseded(run);
        log.warn(
          { code: err.code, attempt: run.attemptsMade + 1, last },
          'send result unknown; will reconcile',
        );
        session.noteSend({ ok: false, code: err.code });
        return last ? { kind: 'fail', error: err } : { kind: 'retry', error: err };
      }
    }
  }

  /**
   * Another run took this message over while this one was frozen (its lease or job lock lapsed):
   * back off without sending and without touching the record.
   */
  private superseded(run: Run): SendOutcome {
    run.log.warn('another attempt took the message over while this run waited: not sending');
    return { kind: 'wait', reason: 'superseded' };
  }
}
