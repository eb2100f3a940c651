import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  MessageStore,
  OutboundQueues,
  outboundQueueName,
  RedisKeys,
  type SendMessageJob,
} from '@app/queue';
import {
  classifyError,
  createSessionDriver,
  SessionDriverError,
  SessionErrorCode,
  SessionStore,
  type AckEvent,
  type DriverStateEvent,
  type Fault,
  type SessionConfig,
  type SessionDriver,
  type SessionLease,
  type SessionState,
  INITIAL_SESSION_STATE,
} from '@app/session';
import type { WorkerConfig } from '../config/worker.config';
import { Pacing } from '../outbound/pacing';
import type { SendService, SessionLink } from '../outbound/send.service';
import { withTimeout } from '../outbound/with-timeout';

export interface RuntimeDeps {
  config: WorkerConfig;
  redis: Redis;
  keys: RedisKeys;
  sessions: SessionStore;
  messages: MessageStore;
  queues: OutboundQueues;
  sendService: SendService;
  logger: Logger;
}

/** First restart delay after a loss; doubles per failed try, capped, with ±20 % jitter. */
const RECOVERY_BASE_MS = 250;
const RECOVERY_CAP_MS = 30000;
/** Probe failures in a row that mean the session is lost. */
const PROBE_FAILURES_LOST = 2;

/**
 * One session owned by this worker: its driver, its BullMQ consumer, and the supervisor that
 * keeps them in step. The queue is paused exactly while the session is not `ready`; a loss
 * pauses it at once and restarts the driver with backoff.
 */
export class SessionRuntime implements SessionLink {
  readonly queue: Queue;
  readonly pacing: Pacing;
  private driver: SessionDriver | null = null;
  private generation = 0;
  private lostGeneration = -1;
  private state: SessionState;
  private consumer: Worker | null = null;
  private stopping = false;
  private recoveryAttempt = 0;
  private recoveryTimer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private probeFailures = 0;
  private queueOps: Promise<void> = Promise.resolve();
  private queuePaused: boolean | null = null;
  private readonly log: Logger;
  /** State changes still being written, so a caller can wait until a reaction is recorded. */
  private pending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: RuntimeDeps,
    readonly config: SessionConfig,
    readonly lease: SessionLease,
    previous: SessionState,
  ) {
    this.queue = deps.queues.get(config.id);
    this.pacing = new Pacing(deps.redis, deps.keys, config.id, config.rateLimit);
    this.log = deps.logger.child({ sessionId: config.id });
    // Health history survives a change of owner; the rest is re-learnt from the driver.
    this.state = { ...INITIAL_SESSION_STATE, health: { ...previous.health, healthy: false } };
  }

  get sessionId(): string {
    return this.config.id;
  }

  get status(): SessionState['status'] {
    return this.state.status;
  }

  async start(): Promise<void> {
    await this.update({ status: 'starting', qr: null });
    this.consumer = this.createConsumer();
    this.launchDriver();
    this.probeTimer = setInterval(() => void this.probe(), this.deps.config.healthCheckIntervalMs);
  }

  /** Periodic: re-applies the queue's pause state (a Redis outage may have eaten a change). */
  async tick(): Promise<void> {
    const actual = await this.queue.isPaused().catch(() => null);
    if (actual !== null && actual !== this.queuePaused) {
      this.queuePaused = actual;
      await this.syncQueue();
    }
  }

  readyDriver(): SessionDriver | null {
    return this.state.status === 'ready' && !this.stopping ? this.driver : null;
  }

  async holdQueue(err: SessionDriverError | null): Promise<void> {
    if (err) this.onLost(err, this.generation);
    await this.syncQueue();
  }

  /** Restart now (API `recover`), also from `failed`. */
  async recover(): Promise<void> {
    if (this.stopping) return;
    this.log.info('recovery requested');
    this.recoveryAttempt = 0;
    this.lostGeneration = this.generation;
    await this.beginRecovery(
      new SessionDriverError('RECOVERY_REQUESTED', 'session', 'recovery requested through the API'),
      0,
    );
  }

  async injectFault(fault: Fault): Promise<void> {
    if (!this.driver) {
      throw new SessionDriverError(
        SessionErrorCode.SessionNotReady,
        'session',
        'the session has no running driver',
      );
    }
    this.log.warn({ fault }, 'injecting fault');
    await this.driver.injectFault(fault);
    // Answer once the reaction (pause, recovering) is recorded, as the API promises.
    await this.settled();
  }

  /** Resolves once every state change begun so far has been applied. */
  async settled(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.pending;
      await seen;
    } while (seen !== this.pending);
  }

  private track(p: Promise<unknown>): void {
    this.pending = Promise.all([this.pending, p.catch(() => undefined)]);
  }

  async requestPairingCode(phone: string): Promise<string> {
    if (!this.driver) {
      throw new SessionDriverError(
        SessionErrorCode.SessionNotReady,
        'session',
        'the session has no running driver',
      );
    }
    return this.driver.requestPairingCode(phone);
  }

  /**
   * Ends this worker's run of the session. `release` hands the lease back (graceful stop);
   * without it the lease was already lost. `userStop` records status `stopped`.
   */
  async stop(opts: { logout?: boolean; release: boolean; userStop?: boolean }): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    if (this.probeTimer) clearInterval(this.probeTimer);
    if (opts.release) await this.syncQueue();
    await this.closeConsumer();
    const driver = this.driver;
    this.driver = null;
    this.generation++;
    await driver
      ?.stop({ logout: opts.logout })
      .catch((err: unknown) => this.log.warn({ err }, 'driver stop failed'));
    if (opts.userStop) await this.update({ status: 'stopped', qr: null, restartInProgress: false });
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
      async (job, token) => this.deps.sendService.process(job, token ?? '', this),
      {
        connection: this.deps.redis,
        prefix: config.queuePrefix,
        concurrency: 1,
        lockDuration,
        stalledInterval: Math.round(lockDuration / 2),
        maxStalledCount: 1000,
        // The limiter only has to exist for queue.rateLimit() (pacing) to take effect.
        limiter: this.pacing.enabled ? { max: 1_000_000, duration: 60000 } : undefined,
        autorun: true,
      },
    );
    worker.on('error', (err) => this.log.warn({ err }, 'queue consumer error'));
    worker.on('failed', (job, err) =>
      this.log.warn({ messageId: job?.id, err: err.message }, 'message job failed'),
    );
    return worker;
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
    if (!inTime) await consumer.close(true).catch(() => undefined);
  }

  private launchDriver(): void {
    if (this.stopping) return;
    const generation = ++this.generation;
    let driver: SessionDriver;
    try {
      driver = createSessionDriver(this.config, {
        sessionId: this.config.id,
        redis: this.deps.redis,
        keys: this.deps.keys,
        logger: this.log,
      });
    } catch (err) {
      void this.markFailed(classifyError(err, { duringSend: false }));
      return;
    }
    this.driver = driver;
    driver.on('state', (ev) => {
      if (generation === this.generation) this.track(this.onDriverState(ev));
    });
    driver.on('lost', (err) => this.onLost(err, generation));
    driver.on('ack', (ev) => void this.onAck(ev));
    driver
      .start()
      .catch((err: unknown) => this.onLost(classifyError(err, { duringSend: false }), generation));
  }

  private async onDriverState(ev: DriverStateEvent): Promise<void> {
    const patch: Partial<SessionState> = {
      status: ev.status,
      qr: ev.status === 'qr' ? (ev.qr ?? null) : null,
    };
    if (ev.phone) patch.phone = ev.phone;
    if (ev.error) patch.lastError = { ...ev.error, at: new Date().toISOString() };
    if (ev.status === 'ready') {
      this.recoveryAttempt = 0;
      this.probeFailures = 0;
      patch.restartInProgress = false;
      patch.health = { ...this.state.health, healthy: true, lastCheckAt: new Date().toISOString() };
    } else {
      patch.health = { ...this.state.health, healthy: false };
    }
    this.log.info({ status: ev.status }, 'session status');
    await this.update(patch);
  }

  private onLost(err: SessionDriverError, generation: number): void {
    if (this.stopping || generation !== this.generation || this.lostGeneration === generation)
      return;
    this.lostGeneration = generation;
    this.recoveryAttempt++;
    if (this.recoveryAttempt > this.deps.config.recoveryMaxAttempts) {
      this.track(this.markFailed(err));
      return;
    }
    const base = Math.min(RECOVERY_CAP_MS, RECOVERY_BASE_MS * 2 ** (this.recoveryAttempt - 1));
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.track(this.beginRecovery(err, delay));
  }

  private async beginRecovery(err: SessionDriverError, delayMs: number): Promise<void> {
    this.log.warn(
      { code: err.code, err: err.message, attempt: this.recoveryAttempt, delayMs },
      'session lost; recovering',
    );
    const driver = this.driver;
    this.driver = null;
    this.generation++;
    const health = {
      ...this.state.health,
      healthy: false,
      recoveries: this.state.health.recoveries + 1,
    };
    await this.update({
      status: 'recovering',
      restartInProgress: true,
      qr: null,
      health,
      lastError: { code: err.code, message: err.message, at: new Date().toISOString() },
    });
    await driver?.stop().catch(() => undefined);
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    this.recoveryTimer = setTimeout(() => {
      this.recoveryTimer = null;
      this.launchDriver();
    }, delayMs);
  }

  private async markFailed(err: SessionDriverError): Promise<void> {
    this.log.error(
      { code: err.code, err: err.message },
      'session failed; giving up until recovered by hand',
    );
    const driver = this.driver;
    this.driver = null;
    this.generation++;
    await driver?.stop().catch(() => undefined);
    await this.update({
      status: 'failed',
      restartInProgress: false,
      qr: null,
      health: { ...this.state.health, healthy: false },
      lastError: { code: err.code, message: err.message, at: new Date().toISOString() },
    });
  }

  private async probe(): Promise<void> {
    const driver = this.readyDriver();
    if (!driver) return;
    const generation = this.generation;
    const at = new Date().toISOString();
    try {
      const result = await withTimeout(
        driver.probe(),
        this.deps.config.healthCheckTimeoutMs,
        () =>
          new SessionDriverError(
            'HEALTH_CHECK_TIMEOUT',
            'session',
            'the health check did not answer in time',
          ),
      );
      if (result.state !== 'CONNECTED')
        throw new SessionDriverError(
          'HEALTH_CHECK_FAILED',
          'session',
          `WhatsApp state is ${result.state}`,
        );
      this.probeFailures = 0;
      await this.update({ health: { ...this.state.health, healthy: true, lastCheckAt: at } });
    } catch (err) {
      if (generation !== this.generation) return;
      this.probeFailures++;
      const e = classifyError(err, { duringSend: false });
      this.log.warn({ code: e.code, failures: this.probeFailures }, 'health check failed');
      await this.update({ health: { ...this.state.health, healthy: false, lastCheckAt: at } });
      if (this.probeFailures >= PROBE_FAILURES_LOST) this.onLost(e, generation);
    }
  }

  private async onAck(ev: AckEvent): Promise<void> {
    const messageId = await this.deps.redis.get(
      this.deps.keys.waMessage(this.config.id, ev.waMessageId),
    );
    if (!messageId) return;
    const now = new Date().toISOString();
    if (ev.status === 'delivered') {
      await this.deps.messages.transition(messageId, {
        to: 'delivered',
        from: ['sent'],
        fields: { deliveredAt: now },
      });
    } else if (ev.status === 'read') {
      await this.deps.messages.transition(messageId, {
        to: 'read',
        from: ['sent', 'delivered'],
        fields: { readAt: now },
      });
    } else {
      await this.deps.messages.transition(messageId, {
        to: 'failed',
        from: ['sent'],
        error: {
          code: 'ACK_ERROR',
          message: 'WhatsApp reported the message as not delivered (ack -1)',
        },
      });
    }
  }

  /** Applies a state change: stores it (fenced by the lease) and brings the queue in line. */
  private async update(patch: Partial<SessionState>): Promise<void> {
    this.state = { ...this.state, ...patch, updatedAt: new Date().toISOString() };
    await this.syncQueue();
    const written = await this.deps.sessions
      .writeState(this.config.id, this.lease, this.state)
      .catch((err: unknown) => {
        this.log.warn({ err }, 'could not store session state');
        return true;
      });
    if (!written && !this.stopping)
      this.log.warn('session state not stored: the lease is no longer ours');
  }

  /** Pauses the queue while the session cannot send, resumes it when it can. Serialised. */
  private syncQueue(): Promise<void> {
    this.queueOps = this.queueOps.then(async () => {
      const pause = this.stopping || this.state.status !== 'ready';
      if (this.queuePaused === pause) return;
      try {
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
