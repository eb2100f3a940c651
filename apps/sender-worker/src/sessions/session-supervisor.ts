import type { Logger } from 'pino';
import { withTimeout } from '@app/core';
import {
  classifyError,
  INITIAL_SESSION_STATE,
  SessionDriverError,
  type AckEvent,
  type DriverStateEvent,
  type SessionDriver,
  type SessionError,
  type SessionState,
} from '@app/session';
import {
  ACCOUNT_SIGNALS,
  firstStep,
  nextStep,
  recoveryDelayMs,
  type RecoveryStep,
} from './recovery-policy';

export interface SupervisorOptions {
  /** RECOVERY_MAX_ATTEMPTS: tries of one recovery before the session is `failed`. */
  recoveryMaxAttempts: number;
  healthCheckIntervalMs: number;
  healthCheckTimeoutMs: number;
  /** RECOVERY_STEP_TIMEOUT_MS: how long one step may take to bring the session back. */
  recoveryStepTimeoutMs: number;
  /** SEND_ERROR_CIRCUIT: retryable send errors of one kind in a row that stop the session. */
  sendErrorCircuit: number;
  /** BROWSER_MEMORY_LIMIT_MB: recycle the browser above it; 0 = never. */
  memoryLimitMb?: number;
  /** BROWSER_RECYCLE_HOURS in ms: recycle a browser this old; 0 = never. */
  recycleAfterMs?: number;
  /** How long a recycle waits for the send in flight. */
  drainTimeoutMs?: number;
}

export interface SupervisorHooks {
  /** A new driver for this session (throws when its engine is unavailable). */
  createDriver(): SessionDriver;
  /** The state changed: store it, align the queue, publish it. Called in order. */
  changed(state: SessionState, previous: SessionState): Promise<void>;
  ack(event: AckEvent): void;
  /** Resolves once the send in flight (if any) has finished, or after `timeoutMs`. */
  drain?(timeoutMs: number): Promise<void>;
}

/** Probe failures in a row that mean the session is lost. */
const PROBE_FAILURES_LOST = 2;
/** Re-check: probes, this far apart, before the client is restarted. */
const RECHECK_TRIES = 3;
const RECHECK_GAP_MS = 500;

interface StepWaiter {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The state machine of one session, fed by its driver's events, the periodic probe and the
 * send path. Driver-agnostic. A loss starts one recovery at a time that escalates (re-check,
 * restart the client, relaunch the browser) with capped exponential backoff, and gives up as
 * `failed` after RECOVERY_MAX_ATTEMPTS tries; account signals (logout, bans) and a run of
 * identical send errors open the circuit instead of retrying.
 */
export class SessionSupervisor {
  private driver: SessionDriver | null = null;
  private generation = 0;
  private state: SessionState;
  private stopped = false;
  private recovery: Promise<void> | null = null;
  private attempt = 0;
  private wake: (() => void) | null = null;
  private stepWaiter: StepWaiter | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private probeFailures = 0;
  private sendErrors = { code: '', count: 0 };
  private changes: Promise<void> = Promise.resolve();
  private launchedAt = 0;
  private recycleCause: SessionDriverError | null = null;

  constructor(
    private readonly hooks: SupervisorHooks,
    private readonly opts: SupervisorOptions,
    private readonly log: Logger,
    previous: SessionState,
  ) {
    // Health history survives a change of owner; the rest is learnt again from the driver.
    this.state = { ...INITIAL_SESSION_STATE, health: { ...previous.health, healthy: false } };
  }

  get current(): SessionState {
    return this.state;
  }

  get recovering(): boolean {
    return this.recovery !== null;
  }

  start(): void {
    void this.apply({ status: 'starting', qr: null });
    this.probeTimer = setInterval(() => void this.probe(), this.opts.healthCheckIntervalMs);
    const generation = this.install();
    if (generation === null) return;
    this.driver!.start().catch((err: unknown) =>
      this.lost(classifyError(err, { duringSend: false }), generation),
    );
  }

  async stop(opts: { logout?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.wake?.();
    this.stepWaiter?.reject(new Error('stopped'));
    const driver = this.driver;
    this.driver = null;
    this.generation++;
    await driver?.stop(opts).catch((err: unknown) => this.log.warn({ err }, 'driver stop failed'));
    await this.settled();
  }

  /** The driver, only while the session can send. */
  readyDriver(): SessionDriver | null {
    return this.state.status === 'ready' && !this.stopped ? this.driver : null;
  }

  /** The driver in whatever state (pairing codes, fault injection). */
  activeDriver(): SessionDriver | null {
    return this.stopped ? null : this.driver;
  }

  /** Resolves once every state change begun so far has been applied. */
  async settled(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.changes;
      await seen;
    } while (seen !== this.changes);
  }

  /** The session was lost (driver event, failed probe, or the send path). */
  lost(err: SessionDriverError, generation = this.generation): void {
    if (this.stopped || generation !== this.generation) return;
    if (this.recovery) {
      // Already recovering: this failure ends the current step, which escalates.
      this.stepWaiter?.reject(err);
      return;
    }
    if (this.state.status === 'failed') return; // circuit open: only a manual recover restarts
    if (ACCOUNT_SIGNALS.has(err.code) || err.failure === 'permanent') {
      void this.openCircuit(err);
      return;
    }
    this.beginRecovery(err, firstStep(err));
  }

  /** `POST …/recover`: recover now, from any state, `failed` included. */
  async recover(): Promise<void> {
    if (this.stopped) return;
    this.sendErrors = { code: '', count: 0 };
    this.attempt = 0;
    if (this.recovery) {
      this.wake?.(); // skip the backoff wait
      return;
    }
    this.beginRecovery(
      new SessionDriverError('RECOVERY_REQUESTED', 'session', 'recovery requested through the API'),
      'relaunch',
    );
    await this.settled();
  }

  /** The send path's outcomes: a run of identical retryable errors opens the circuit. */
  noteSend(outcome: { ok: true } | { ok: false; code: string }): void {
    if (outcome.ok) {
      this.sendErrors = { code: '', count: 0 };
      return;
    }
    this.sendErrors =
      this.sendErrors.code === outcome.code
        ? { code: outcome.code, count: this.sendErrors.count + 1 }
        : { code: outcome.code, count: 1 };
    if (this.sendErrors.count >= this.opts.sendErrorCircuit) {
      const { code, count } = this.sendErrors;
      void this.openCircuit(
        new SessionDriverError(
          'SEND_ERRORS',
          'session',
          `${count} sends in a row failed with ${code}: sending is paused to protect the account; fix the cause, then POST /api/sessions/:id/recover`,
        ),
      );
    }
  }

  /** Creates and wires a driver; returns its generation, or null if none could be made. */
  private install(): number | null {
    const generation = ++this.generation;
    let driver: SessionDriver;
    try {
      driver = this.hooks.createDriver();
    } catch (err) {
      this.driver = null;
      const e = classifyError(err, { duringSend: false });
      queueMicrotask(() => this.lost(e, generation));
      return null;
    }
    this.driver = driver;
    this.launchedAt = Date.now();
    driver.on('state', (ev) => {
      if (generation === this.generation) this.onDriverState(ev);
    });
    driver.on('lost', (err) => this.lost(err, generation));
    driver.on('ack', (ev) => this.hooks.ack(ev));
    return generation;
  }

  private onDriverState(ev: DriverStateEvent): void {
    const now = new Date().toISOString();
    const error = ev.error ? { ...ev.error, at: now } : undefined;
    switch (ev.status) {
      case 'ready':
        this.probeFailures = 0;
        void this.apply({
          status: 'ready',
          qr: null,
          phone: ev.phone ?? this.state.phone,
          restartInProgress: false,
          health: { ...this.state.health, healthy: true, lastCheckAt: now },
        });
        this.stepWaiter?.resolve();
        return;
      case 'qr':
        // Usable again, but only a person (or the simulator) can link it.
        void this.apply({
          status: 'qr',
          qr: ev.qr ?? null,
          restartInProgress: false,
          health: { ...this.state.health, healthy: false },
        });
        this.stepWaiter?.resolve();
        return;
      case 'logged_out':
      case 'failed':
        // Account signals: the circuit opens; the driver (which shows a new QR after a logout)
        // carries on, nothing restarts it.
        void this.apply({
          status: ev.status,
          qr: null,
          restartInProgress: false,
          health: { ...this.state.health, healthy: false },
          ...(error ? { lastError: error } : {}),
        });
        this.stepWaiter?.resolve();
        return;
      default:
        // starting / authenticating / disconnected: during a recovery the status stays
        // `recovering` until the session is usable again.
        void this.apply({
          status: this.recovery ? 'recovering' : ev.status,
          qr: null,
          health: { ...this.state.health, healthy: false },
          ...(error ? { lastError: error } : {}),
        });
    }
  }

  private beginRecovery(cause: SessionDriverError, step: RecoveryStep): void {
    this.recovery = this.runRecovery(cause, step)
      .catch((err: unknown) => this.log.error({ err }, 'recovery crashed'))
      .finally(() => {
        this.recovery = null;
      });
  }

  private async runRecovery(cause: SessionDriverError, step: RecoveryStep): Promise<void> {
    this.attempt = 0;
    this.log.warn({ code: cause.code, err: cause.message, step }, 'session lost; recovering');
    await this.apply({
      status: 'recovering',
      restartInProgress: true,
      qr: null,
      health: {
        ...this.state.health,
        healthy: false,
        recoveries: this.state.health.recoveries + 1,
      },
      lastError: errorOf(cause),
    });
    while (!this.stopped) {
      this.attempt++;
      if (this.attempt > this.opts.recoveryMaxAttempts) {
        await this.openCircuit(
          cause,
          `gave up after ${this.opts.recoveryMaxAttempts} recovery attempts: ${cause.message}`,
        );
        return;
      }
      await this.pause(recoveryDelayMs(this.attempt));
      if (this.stopped) return;
      try {
        await this.runStep(step);
        this.log.info(
          { step, attempt: this.attempt, status: this.state.status },
          'session recovered',
        );
        return;
      } catch (err) {
        if (this.stopped) return;
        cause = classifyError(err, { duringSend: false });
        // A step that is not possible (e.g. no in-place restart) escalates; a session that
        // cannot be launched at all, or an account signal, stops trying.
        if (
          ACCOUNT_SIGNALS.has(cause.code) ||
          (step === 'relaunch' && cause.failure === 'permanent')
        ) {
          await this.openCircuit(cause);
          return;
        }
        this.log.warn(
          { step, attempt: this.attempt, code: cause.code, err: cause.message },
          'recovery step failed',
        );
        step = nextStep(step);
        await this.apply({ lastError: errorOf(cause) });
      }
    }
  }

  private async runStep(step: RecoveryStep): Promise<void> {
    if (step === 'recheck') {
      // A TIMEOUT / OPENING state often clears by itself: ask a few times before restarting.
      let lastError: unknown;
      for (let i = 0; i < RECHECK_TRIES && !this.stopped; i++) {
        if (i > 0) await this.pause(RECHECK_GAP_MS);
        const driver = this.driver;
        if (!driver) throw new SessionDriverError('NO_DRIVER', 'session', 'no driver to check');
        try {
          const result = await this.probeOnce(driver);
          if (result.state === 'CONNECTED') {
            this.onDriverState({ status: 'ready' });
            return;
          }
          lastError = new SessionDriverError(
            'HEALTH_CHECK_FAILED',
            'session',
            `WhatsApp state is ${result.state}`,
          );
        } catch (err) {
          // No answer at all: the page is frozen or gone, asking again will not help.
          throw err;
        }
      }
      throw lastError instanceof Error ? lastError : new Error('stopped');
    }
    const usable = this.waitUsable();
    try {
      if (step === 'restart-client') {
        if (!this.driver)
          throw new SessionDriverError('NO_DRIVER', 'session', 'no driver to restart');
        await this.driver.restartClient();
      } else {
        if (this.recycleCause) {
          // A planned recycle: the queue is paused already; let the send in flight finish.
          await this.hooks.drain?.(this.opts.drainTimeoutMs ?? 120000);
          this.recycleCause = null;
        }
        await this.relaunch();
      }
    } catch (err) {
      this.stepWaiter?.reject(err instanceof Error ? err : new Error(String(err)));
      await usable.catch(() => undefined);
      throw err;
    }
    await usable;
  }

  /** Stops the driver (and its browser) and starts a new one with the saved auth. */
  private async relaunch(): Promise<void> {
    const old = this.driver;
    this.driver = null;
    this.generation++;
    await old?.stop().catch(() => undefined);
    if (this.stopped) throw new Error('stopped');
    const generation = this.install();
    if (generation === null || !this.driver) {
      throw new SessionDriverError('DRIVER_UNAVAILABLE', 'permanent', 'no driver could be created');
    }
    await (this.driver as SessionDriver).start();
  }

  /** Resolves when the session is usable (ready, or waiting for a QR scan) again. */
  private waitUsable(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stepWaiter = null;
        reject(
          new SessionDriverError(
            'RECOVERY_TIMEOUT',
            'session',
            `the session was not back within ${this.opts.recoveryStepTimeoutMs} ms`,
          ),
        );
      }, this.opts.recoveryStepTimeoutMs);
      this.stepWaiter = {
        resolve: () => {
          clearTimeout(timer);
          this.stepWaiter = null;
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          this.stepWaiter = null;
          reject(err);
        },
      };
    });
  }

  /** Stops trying: status `failed` with the reason; messages stay queued; manual recover resets. */
  private async openCircuit(cause: SessionDriverError, message = cause.message): Promise<void> {
    this.log.error(
      { code: cause.code, err: message },
      'session failed; waiting for a manual recover',
    );
    const driver = this.driver;
    this.driver = null;
    this.generation++;
    await driver?.stop().catch(() => undefined);
    await this.apply({
      status: 'failed',
      restartInProgress: false,
      qr: null,
      health: { ...this.state.health, healthy: false },
      lastError: { code: cause.code, message, at: new Date().toISOString() },
    });
  }

  private async probe(): Promise<void> {
    const driver = this.readyDriver();
    if (!driver || this.recovery) return;
    const generation = this.generation;
    const at = new Date().toISOString();
    try {
      const result = await this.probeOnce(driver);
      if (result.state !== 'CONNECTED') {
        throw new SessionDriverError(
          'HEALTH_CHECK_FAILED',
          'session',
          `WhatsApp state is ${result.state}`,
        );
      }
      this.probeFailures = 0;
      if (generation === this.generation && this.state.status === 'ready') {
        await this.apply({
          health: { ...this.state.health, healthy: true, lastCheckAt: at },
          ...(result.memoryMb !== undefined ? { memoryMb: result.memoryMb } : {}),
        });
        this.recycleIfDue(result.memoryMb);
      }
    } catch (err) {
      if (generation !== this.generation) return;
      this.probeFailures++;
      const e = classifyError(err, { duringSend: false });
      this.log.warn({ code: e.code, failures: this.probeFailures }, 'health check failed');
      await this.apply({ health: { ...this.state.health, healthy: false, lastCheckAt: at } });
      if (this.probeFailures >= PROBE_FAILURES_LOST) this.lost(e, generation);
    }
  }

  /**
   * The first seed's root cause was Chromium growing until the container died: past
   * BROWSER_MEMORY_LIMIT_MB (or BROWSER_RECYCLE_HOURS) the browser is replaced on purpose,
   * queue paused, after the send in flight, with the saved auth.
   */
  private recycleIfDue(memoryMb: number | undefined): void {
    const { memoryLimitMb = 0, recycleAfterMs = 0 } = this.opts;
    let cause: SessionDriverError | null = null;
    if (memoryLimitMb > 0 && memoryMb !== undefined && memoryMb > memoryLimitMb) {
      cause = new SessionDriverError(
        'MEMORY_LIMIT',
        'session',
        `the browser uses ${memoryMb} MB, above BROWSER_MEMORY_LIMIT_MB (${memoryLimitMb}): recycling it`,
      );
    } else if (recycleAfterMs > 0 && Date.now() - this.launchedAt > recycleAfterMs) {
      cause = new SessionDriverError(
        'SCHEDULED_RECYCLE',
        'session',
        'the browser reached BROWSER_RECYCLE_HOURS: recycling it',
      );
    }
    if (!cause || this.recovery) return;
    this.recycleCause = cause;
    this.beginRecovery(cause, 'relaunch');
  }

  /** One bounded probe: getState() blocks until puppeteer's protocol timeout on a frozen page. */
  private probeOnce(driver: SessionDriver) {
    return withTimeout(
      driver.probe(),
      this.opts.healthCheckTimeoutMs,
      () =>
        new SessionDriverError(
          'HEALTH_CHECK_TIMEOUT',
          'session',
          'the session did not answer in time',
        ),
    );
  }

  /** A backoff wait that a manual recover or a stop cuts short. */
  private pause(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private apply(patch: Partial<SessionState>): Promise<void> {
    const previous = this.state;
    this.state = { ...previous, ...patch, updatedAt: new Date().toISOString() };
    const next = this.state;
    this.changes = this.changes
      .then(() => this.hooks.changed(next, previous))
      .catch((err: unknown) => {
        this.log.warn({ err }, 'could not apply a session state change');
      });
    return this.changes;
  }
}

function errorOf(err: SessionDriverError): SessionError {
  return { code: err.code, message: err.message, at: new Date().toISOString() };
}
