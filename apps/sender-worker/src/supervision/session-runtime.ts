import { type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { EventLog, RedisKeys, type SessionStatusEventData } from '@app/core';
import { MessageStore, OutboundQueues, outboundQueueName, type SendMessageJob } from '@app/queue';
import {
  leaseValue,
  SessionDriverError,
  SessionErrorCode,
  SessionStore,
  type AckEvent,
  type DownloadedMedia,
  type Fault,
  type IncomingMessage,
  type SessionConfig,
  type SessionDriver,
  type SessionLease,
  type SessionState,
  type SimulatedIncoming,
} from '@app/session';
import { createSessionDriver } from '@app/session/drivers';
import type { WorkerConfig } from '../config/worker.config';
import { Pacing } from '../outbound/pacing';
import type { MessageStatusService } from '../outbound/message-status.service';
import type { SendProcessor, SessionLink } from '../outbound/send.processor';
import { SessionSupervisor } from './session-supervisor';
import { supervisionMetrics } from './supervision.metrics';
import { IncomingRecorder } from './incoming-recorder';
import { errorFromFailedReason, type RecordSettler } from '../consistency/record-settler';

export interface RuntimeDeps {
  config: WorkerConfig;
  redis: Redis;
  keys: RedisKeys;
  sessions: SessionStore;
  messages: MessageStore;
  queues: OutboundQueues;
  sendProcessor: SendProcessor;
  messageStatus: MessageStatusService;
  logger: Logger;
  settler: RecordSettler;
  /** Where the session's incoming messages are recorded (`message.received`). */
  events: EventLog;
}

/**
 * One session owned by this worker: its supervisor (driver and recovery), its BullMQ consumer,
 * and what keeps them in step: the queue is paused exactly while the session is not `ready`,
 * every state change is stored (fenced by the lease) and published as `session.status`.
 */
export class SessionRuntime implements SessionLink {
  readonly queue: Queue;
  readonly pacing: Pacing;
  private readonly supervisor: SessionSupervisor;
  private readonly incoming: IncomingRecorder;
  private consumer: Worker | null = null;
  private stopping = false;
  private queueOps: Promise<void> = Promise.resolve();
  private queuePaused: boolean | null = null;
  /** The lease as stored: the send path's move to `sending` checks it in its own step. */
  readonly leaseFence: { key: string; value: string };
  private readonly log: Logger;
  /** Sends in flight (0 or 1: concurrency 1), so a recycle can let one finish first. */
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly deps: RuntimeDeps,
    readonly config: SessionConfig,
    readonly lease: SessionLease,
    previous: SessionState,
  ) {
    this.queue = deps.queues.get(config.id);
    this.leaseFence = { key: deps.keys.lease(config.id), value: leaseValue(lease) };
    this.pacing = new Pacing(deps.redis, deps.keys, config.id, config.rateLimit);
    this.log = deps.logger.child({ sessionId: config.id });
    this.incoming = new IncomingRecorder(config.id, deps.events, () => this.holdsLease(), this.log);
    const c = deps.config;
    this.supervisor = new SessionSupervisor(
      {
        createDriver: () =>
          createSessionDriver(config, {
            sessionId: config.id,
            redis: deps.redis,
            keys: deps.keys,
            logger: this.log,
            wwebjs: deps.config.wwebjs,
            media: deps.config.media,
            fence: { key: deps.keys.lease(config.id), value: leaseValue(lease) },
          }),
        drain: (timeoutMs) => this.drainInFlight(timeoutMs),
        changed: (state, prev) => this.persist(state, prev),
        ack: (ev) => void this.onAck(ev),
        incoming: (m) => void this.incoming.record(m),
        observer: supervisionMetrics(config.id),
      },
      {
        recoveryMaxAttempts: c.recoveryMaxAttempts,
        healthCheckIntervalMs: c.healthCheckIntervalMs,
        healthCheckTimeoutMs: c.healthCheckTimeoutMs,
        recoveryStepTimeoutMs: c.recoveryStepTimeoutMs,
        sendErrorCircuit: c.sendErrorCircuit,
        memoryLimitMb: c.browserMemoryLimitMb,
        recycleAfterMs: c.browserRecycleHours * 3600000,
        drainTimeoutMs: c.sendTimeoutMs,
      },
      this.log,
      previous,
    );
  }

  get sessionId(): string {
    return this.config.id;
  }

  /** Memory of this session's browser at the last probe (MB), if it has one. */
  get memoryMb(): number | null {
    return this.supervisor.current.memoryMb ?? null;
  }

  get status(): SessionState['status'] {
    return this.supervisor.current.status;
  }

  async start(): Promise<void> {
    this.consumer = this.createConsumer();
    void this.runConsumer(this.consumer);
    this.supervisor.start();
    await this.supervisor.settled();
  }

  readyDriver(): SessionDriver | null {
    return this.stopping ? null : this.supervisor.readyDriver();
  }

  async holdQueue(
    loss: { error: SessionDriverError; driver?: SessionDriver } | null,
  ): Promise<void> {
    if (loss) this.supervisor.sendLost(loss.error, loss.driver);
    await this.supervisor.settled();
    await this.syncQueue();
  }

  holdsLease(): Promise<boolean> {
    return this.deps.sessions.isCurrent(this.config.id, this.lease);
  }

  noteSend(outcome: { ok: true } | { ok: false; code: string }): void {
    this.supervisor.noteSend(outcome);
  }

  /** Periodic: repairs the queue's pause state if a Redis outage ate a change. */
  async tick(): Promise<void> {
    const actual = await this.queue.isPaused().catch(() => null);
    if (actual !== null && actual !== this.queuePaused) {
      this.queuePaused = actual;
      await this.syncQueue();
    }
  }

  async recover(): Promise<void> {
    if (this.stopping) return;
    this.log.info('recovery requested');
    await this.supervisor.recover();
  }

  async injectFault(fault: Fault): Promise<void> {
    const driver = this.runningDriver();
    this.log.warn({ fault }, 'injecting fault');
    await driver.injectFault(fault);
    // Answer once the reaction (pause, recovering) is recorded, as the API promises.
    await this.supervisor.settled();
  }

  /**
   * Unlinks the device while the session still runs (before a deletion stops it). Says why
   * when it cannot: the caller passes that on, never silently nothing.
   */
  async logout(): Promise<{ loggedOut: boolean; reason?: { code: string; message: string } }> {
    const driver = this.stopping ? null : this.supervisor.activeDriver();
    if (!driver) {
      return {
        loggedOut: false,
        reason: {
          code: 'SESSION_NOT_RUNNING',
          message: `the session is ${this.status} with no running client, so WhatsApp could not be told: remove the device on the phone (Linked devices)`,
        },
      };
    }
    try {
      await driver.logout();
      this.log.info('device unlinked (logout)');
      return { loggedOut: true };
    } catch (err) {
      const code = err instanceof SessionDriverError ? err.code : 'LOGOUT_FAILED';
      this.log.warn({ code }, 'logout failed');
      return {
        loggedOut: false,
        reason: {
          code,
          message: `WhatsApp could not be told (${(err as Error).message}): remove the device on the phone (Linked devices)`,
        },
      };
    }
  }

  /**
   * Sandbox: the simulator receives a message; answers once its `message.received` event is in
   * the log (or known to be there already), so the caller can read it right away.
   */
  async simulateIncoming(input: SimulatedIncoming): Promise<IncomingMessage> {
    const message = await this.readyOrThrow().simulateIncoming(input);
    const outcome = await this.incoming.record(message);
    if (outcome === 'failed' || outcome === 'not-owner') {
      throw new SessionDriverError(
        outcome === 'failed' ? 'EVENT_NOT_RECORDED' : SessionErrorCode.SessionNotReady,
        'retryable',
        outcome === 'failed'
          ? 'the message was received but its event could not be recorded'
          : 'this worker no longer owns the session',
      );
    }
    return message;
  }

  /** An incoming message's media, fetched by the driver now (the session must be ready). */
  downloadIncomingMedia(waMessageId: string): Promise<DownloadedMedia> {
    return this.readyOrThrow().downloadIncomingMedia(waMessageId);
  }

  async requestPairingCode(phone: string): Promise<string> {
    const driver = this.runningDriver();
    return driver.requestPairingCode(phone);
  }

  private readyOrThrow(): SessionDriver {
    const driver = this.readyDriver();
    if (!driver) {
      throw new SessionDriverError(
        SessionErrorCode.SessionNotReady,
        'session',
        `the session is ${this.status}, not ready`,
      );
    }
    return driver;
  }

  private runningDriver(): SessionDriver {
    const driver = this.supervisor.activeDriver();
    if (!driver) {
      throw new SessionDriverError(
        SessionErrorCode.SessionNotReady,
        'session',
        'the session has no running driver',
      );
    }
    return driver;
  }

  /**
   * Ends this worker's run of the session. `release` hands the lease back (graceful stop);
   * without it the lease was already lost. `userStop` records status `stopped`.
   */
  async stop(opts: { logout?: boolean; release: boolean; userStop?: boolean }): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (opts.release) await this.syncQueue();
    await this.closeConsumer();
    await this.supervisor.stop({ logout: opts.logout });
    if (opts.userStop) {
      const s = this.supervisor.current;
      await this.persist({ ...s, status: 'stopped', qr: null, restartInProgress: false }, s);
    }
    if (opts.release)
      await this.deps.sessions.release(this.config.id, this.lease).catch(() => undefined);
    this.log.info({ logout: !!opts.logout, released: opts.release }, 'session stopped');
  }

  private createConsumer(): Worker {
    const { config } = this.deps;
    // Locks are short so a job of a SIGKILLed worker is picked up again within seconds, and
    // stalls never fail a job: the send intent makes a re-run safe (it reconciles first).
    const lockDuration = Math.min(30000, Math.max(5000, config.sessionLeaseMs));
    const worker = new Worker<SendMessageJob>(
      outboundQueueName(this.config.id),
      async (job, token) => {
        this.inFlight++;
        try {
          return await this.deps.sendProcessor.process(job, token ?? '', this);
        } finally {
          this.inFlight--;
          if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
        }
      },
      {
        connection: this.deps.redis,
        prefix: config.queuePrefix,
        concurrency: 1,
        lockDuration,
        stalledInterval: Math.round(lockDuration / 2),
        maxStalledCount: 1000,
        // An idle consumer re-polls its queue every drainDelay seconds (BullMQ's default 5):
        // with 50 sessions per worker that is most of an idle fleet's Redis load. A new job
        // wakes the blocked consumer at once (BullMQ's marker), and delayed jobs bound the
        // block by their own due time, so a longer poll delays nothing; 10 s is the ceiling
        // BullMQ itself keeps for a blocked Redis command (bullmq#1658).
        drainDelay: 10,
        // The limiter only has to exist for queue.rateLimit() (pacing) to take effect.
        limiter: this.pacing.enabled ? { max: 1_000_000, duration: 60000 } : undefined,
        // Started by runConsumer, once the previous owner's job is back in the queue.
        autorun: false,
      },
    );
    worker.on('error', (err) => this.log.warn({ err }, 'queue consumer error'));
    worker.on('failed', (job, err) => {
      this.log.warn({ messageId: job?.id, err: err.message }, 'message job failed');
      if (job) void this.settleFailedJob(job);
    });
    return worker;
  }

  /**
   * Starts taking jobs once none of this queue is active. A job the session's previous owner
   * left active (a SIGKILLed worker) stays locked until its lock expires; BullMQ's stalled
   * check then puts it back at the head of the queue. Taking the next job before that would
   * send later messages first, and a session's messages leave in the order they were accepted
   * (CONTRACT). Bounded: past a few lock lifetimes (an old owner that still renews its lock,
   * which the lease fences off anyway), the consumer starts regardless.
   */
  private async runConsumer(worker: Worker): Promise<void> {
    const lockMs = worker.opts.lockDuration ?? 30000;
    const boundMs = 3 * lockMs + 2 * (worker.opts.stalledInterval ?? lockMs);
    // Counted from the first active job seen, not from the start: a Redis outage or AOF load
    // before it (counts unknown) must not use the bound up and skip the stalled check.
    let deadline: number | null = null;
    for (;;) {
      if (this.consumer !== worker || worker.closing) return;
      let active: number | null = null;
      try {
        active = await this.queue.getActiveCount();
      } catch {
        // Redis is away: unknown, ask again (the consumer would wait for Redis anyway).
      }
      if (active === 0) break;
      if (active !== null && deadline === null) {
        deadline = Date.now() + boundMs;
        this.log.info(
          { active },
          "waiting for the previous owner's message to return to the queue",
        );
        // The stalled check is what moves an expired job back; run it before the consumer.
        await worker.startStalledCheckTimer().catch(() => undefined);
      } else if (deadline !== null && Date.now() > deadline) {
        this.log.warn(
          { active, waitedMs: boundMs },
          'a job is still active after its lock should have expired: starting anyway',
        );
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    if (this.consumer !== worker || worker.closing) return;
    worker.run().catch((err: unknown) => this.log.warn({ err }, 'queue consumer stopped'));
  }

  /**
   * Every job that ends ends its record: BullMQ can fail a job the send path did not settle
   * (attempts from another config, an error that escaped the handler, maxStalledCount). Only a
   * job that will not run again counts; an open send intent is reconciled first, or left to the
   * consistency check while the session is not ready.
   */
  private async settleFailedJob(job: Job<SendMessageJob>): Promise<void> {
    try {
      const state = await job.getState();
      const attempts = job.opts.attempts ?? 1;
      if (state !== 'failed' && !(state === 'unknown' && job.attemptsMade >= attempts)) return;
      await this.deps.settler.settle(
        this.config.id,
        job.data.messageId,
        errorFromFailedReason(job.failedReason),
        { driver: this.readyDriver(), job, source: 'listener' },
      );
    } catch (err) {
      this.log.warn({ messageId: job.id, err }, 'could not settle the record of a failed job');
    }
  }

  /** Resolves once no send is in flight (or after `timeoutMs`). */
  private drainInFlight(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async closeConsumer(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = null;
    if (!consumer) return;
    // Let the job in flight finish (or go back to the queue) within the grace period; past it,
    // leave it locked: the next owner finds its send intent and reconciles.
    const closed = consumer.close().then(() => true);
    const inTime = await Promise.race([
      closed,
      new Promise<boolean>((r) =>
        setTimeout(() => r(false), this.deps.config.shutdownGraceMs).unref(),
      ),
    ]);
    // A second close() joins the first, which waits for the job with no timeout: bound it. The
    // driver's stop, next, ends the hung call and the job with it.
    if (!inTime)
      await Promise.race([
        consumer.close(true).catch(() => undefined),
        new Promise<void>((r) => setTimeout(r, 1000).unref()),
      ]);
  }

  /** Applies an ack to its message; one that came before the send indexed its id is kept. */
  private async onAck(ev: AckEvent): Promise<void> {
    await this.deps.messageStatus
      .applyAck(this.config.id, ev)
      .catch((err: unknown) => this.log.warn({ err }, 'could not record an ack'));
  }

  /**
   * Stores a state change (fenced by the lease) with its `session.status` event when the status
   * moved, and aligns the queue.
   */
  private async persist(state: SessionState, previous: SessionState): Promise<void> {
    await this.syncQueue(state);
    const moved = state.status !== previous.status;
    const event = moved
      ? EventLog.create<SessionStatusEventData>('session.status', this.config.id, {
          status: state.status,
          previous: previous.status,
          lastError: state.lastError,
          worker: this.deps.config.workerId,
        })
      : undefined;
    const written = await this.deps.sessions
      .writeState(this.config.id, this.lease, state, event)
      .catch((err: unknown) => {
        this.log.warn({ err }, 'could not store session state');
        return true;
      });
    if (!written && !this.stopping)
      this.log.warn('session state not stored: the lease is no longer ours');
    if (moved)
      this.log.info(
        { status: state.status, previous: previous.status, code: state.lastError?.code },
        'session status',
      );
  }

  /** Pauses the queue while the session cannot send, resumes it when it can. Serialised. */
  private syncQueue(state: SessionState = this.supervisor.current): Promise<void> {
    this.queueOps = this.queueOps.then(async () => {
      const pause = this.stopping || state.status !== 'ready';
      if (this.queuePaused === pause) return;
      try {
        // Fencing: only the lease holder changes the queue's pause state (a graceful stop
        // pauses just before it releases the lease, so it still holds it here).
        if (!(await this.holdsLease())) return;
        if (pause) await this.queue.pause();
        else await this.queue.resume();
        this.queuePaused = pause;
        this.log.info({ paused: pause }, pause ? 'queue paused' : 'queue resumed');
      } catch (err) {
        this.queuePaused = null;
        this.log.warn({ err }, 'could not change the queue pause state');
      }
    });
    return this.queueOps;
  }
}
