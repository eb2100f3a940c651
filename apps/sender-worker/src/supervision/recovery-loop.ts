import type { Logger } from 'pino';
import { classifyError, SessionDriverError, type SessionDriver } from '@app/session';
import { isAccountSignal } from './circuit-breaker';
import { notConnected, type HealthProbe } from './health-probe';
import { nextStep, recoveryDelayMs, type RecoveryStep } from './recovery-policy';
import { errorOf, recoveringPatch, type SessionStateMachine } from './session-state-machine';
import type { SupervisionObserver } from './supervision.metrics';

/** A loss's first sign and who saw it, for the detection time. */
export interface LossDetection {
  since: number;
  trigger: 'report' | 'probe';
}

/** Re-check: probes, this far apart, before the client is restarted. */
const RECHECK_TRIES = 3;
const RECHECK_GAP_MS = 500;

export interface RecoveryOptions {
  /** RECOVERY_MAX_ATTEMPTS: tries of one recovery before the session is `failed`. */
  recoveryMaxAttempts: number;
  /** RECOVERY_STEP_TIMEOUT_MS: how long one step may take to bring the session back. */
  recoveryStepTimeoutMs: number;
  /** How long a recycle waits for the send in flight. */
  drainTimeoutMs?: number;
}

/** What the loop needs from the supervisor that runs it. */
export interface RecoveryHost {
  isStopped(): boolean;
  /** The current driver, if any. */
  driver(): SessionDriver | null;
  /** Stops the driver (and its browser) and starts a new one with the saved auth. */
  relaunch(): Promise<void>;
  /** Stops trying: the session is `failed` until a manual recover. */
  openCircuit(cause: SessionDriverError, message?: string): Promise<void>;
  /** A re-check found WhatsApp `CONNECTED`: the session is ready again. */
  ready(): void;
  /** Resolves once the send in flight (if any) has finished, or after `timeoutMs`. */
  drain?(timeoutMs: number): Promise<void>;
}

interface StepWaiter {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * One recovery at a time for one session: tries that escalate (re-check, restart the client,
 * relaunch the browser; `recovery-policy.ts`) with capped exponential backoff between them,
 * until the session is usable again, the circuit opens (an account signal, a session that
 * cannot be launched at all) or RECOVERY_MAX_ATTEMPTS tries have failed.
 *
 * A step that restarts something is done when the driver reports the session usable (the
 * supervisor calls {@link stepEnded}), fails when it reports a new loss ({@link interrupt}),
 * and times out after RECOVERY_STEP_TIMEOUT_MS.
 */
export class RecoveryLoop {
  private running: Promise<void> | null = null;
  private attempt = 0;
  private wake: (() => void) | null = null;
  private stepWaiter: StepWaiter | null = null;
  /** The step being tried (or last tried) in the recovery under way. */
  private step: RecoveryStep | null = null;
  /** Set by a planned recycle: the relaunch first lets the send in flight finish. */
  private drainFirst = false;

  constructor(
    private readonly host: RecoveryHost,
    private readonly machine: SessionStateMachine,
    private readonly health: HealthProbe,
    private readonly opts: RecoveryOptions,
    private readonly log: Logger,
    private readonly observer?: SupervisionObserver,
  ) {}

  get active(): boolean {
    return this.running !== null;
  }

  /**
   * A recovery is under way whose step reloads the page or replaces the browser (now, or in
   * the step that just failed: the next one only escalates): it is what ends the sends that
   * were in flight, so their failures are not new losses.
   */
  get replacingPage(): boolean {
    return this.running !== null && this.step !== null && this.step !== 'recheck';
  }

  /** Starts a recovery from `step`. With `drainFirst` (a recycle) the send in flight ends first. */
  begin(
    cause: SessionDriverError,
    step: RecoveryStep,
    opts: { drainFirst?: boolean; detected?: LossDetection } = {},
  ): void {
    if (opts.drainFirst) this.drainFirst = true;
    this.running = this.run(cause, step, opts.detected)
      .catch((err: unknown) => this.log.error({ err }, 'recovery crashed'))
      .finally(() => {
        this.running = null;
        this.step = null;
      });
  }

  /** The driver reports the session usable (or an account signal): the current step is done. */
  stepEnded(): void {
    this.stepWaiter?.resolve();
  }

  /** A failure during the current step: it ends, and the next try escalates. */
  interrupt(err: Error): void {
    this.stepWaiter?.reject(err);
  }

  /** A manual recover: count the tries from the start again, and skip the backoff wait. */
  resetAttempts(): void {
    this.attempt = 0;
  }

  skipWait(): void {
    this.wake?.();
  }

  /** The session stops: end the wait and the step in progress. */
  cancel(): void {
    this.wake?.();
    this.stepWaiter?.reject(new Error('stopped'));
  }

  private async run(
    cause: SessionDriverError,
    step: RecoveryStep,
    detected?: LossDetection,
  ): Promise<void> {
    this.attempt = 0;
    this.log.warn({ code: cause.code, err: cause.message, step }, 'session lost; recovering');
    // Resolves once the change is stored and the queue paused: the loss is then detected.
    await this.machine.apply(recoveringPatch(this.machine.current, cause));
    if (detected) this.observer?.lossDetected(Date.now() - detected.since, detected.trigger);
    while (!this.host.isStopped()) {
      this.attempt++;
      if (this.attempt > this.opts.recoveryMaxAttempts) {
        await this.host.openCircuit(
          cause,
          `gave up after ${this.opts.recoveryMaxAttempts} recovery attempts: ${cause.message}`,
        );
        return;
      }
      await this.pause(recoveryDelayMs(this.attempt));
      if (this.host.isStopped()) return;
      this.step = step;
      try {
        await this.runStep(step);
        this.observer?.recoveryStep(step, 'recovered');
        this.log.info(
          { step, attempt: this.attempt, status: this.machine.current.status },
          'session recovered',
        );
        return;
      } catch (err) {
        if (this.host.isStopped()) return;
        this.observer?.recoveryStep(step, 'failed');
        cause = classifyError(err, { duringSend: false });
        // A step that is not possible (e.g. no in-place restart) escalates; a session that
        // cannot be launched at all, or an account signal, stops trying.
        if (isAccountSignal(cause) || (step === 'relaunch' && cause.failure === 'permanent')) {
          await this.host.openCircuit(cause);
          return;
        }
        this.log.warn(
          { step, attempt: this.attempt, code: cause.code, err: cause.message },
          'recovery step failed',
        );
        step = nextStep(step);
        await this.machine.apply({ lastError: errorOf(cause) });
      }
    }
  }

  private async runStep(step: RecoveryStep): Promise<void> {
    if (step === 'recheck') return this.recheck();
    const usable = this.waitUsable();
    // A loss reported while the step is still relaunching rejects `usable` before it is awaited
    // (below): handled here so it is no unhandled rejection; the await still throws it.
    usable.catch(() => undefined);
    try {
      if (step === 'restart-client') {
        const driver = this.host.driver();
        if (!driver) throw new SessionDriverError('NO_DRIVER', 'session', 'no driver to restart');
        // Bounded by the step's timeout like the rest of the step: a reload that never
        // completes (a renderer that does not answer) must not hold recovery for
        // WWEBJS_START_TIMEOUT_MS; the relaunch that follows ends it.
        const restarting = driver.restartClient();
        restarting.catch(() => undefined);
        try {
          await Promise.race([restarting, usable]);
        } catch (err) {
          // Not back in time: this driver is done for (the relaunch next replaces it). Stopped
          // now, so a reload that completes during the backoff before that relaunch cannot
          // report `ready` and resume the queue under a driver about to be killed mid-send.
          if ((err as { code?: string })?.code === 'RECOVERY_TIMEOUT')
            await driver.stop().catch(() => undefined);
          throw err;
        }
      } else {
        if (this.drainFirst) {
          // A planned recycle: the queue is paused already; let the send in flight finish.
          await this.host.drain?.(this.opts.drainTimeoutMs ?? 120000);
          this.drainFirst = false;
        }
        await this.host.relaunch();
      }
    } catch (err) {
      this.stepWaiter?.reject(err instanceof Error ? err : new Error(String(err)));
      await usable.catch(() => undefined);
      throw err;
    }
    await usable;
  }

  /**
   * A TIMEOUT / OPENING state often clears by itself: ask a few times before restarting. A
   * probe that gets no answer at all (the page is frozen or gone) fails the step at once:
   * asking again will not help.
   */
  private async recheck(): Promise<void> {
    let lastError: unknown;
    for (let i = 0; i < RECHECK_TRIES && !this.host.isStopped(); i++) {
      if (i > 0) await this.pause(RECHECK_GAP_MS);
      const driver = this.host.driver();
      if (!driver) throw new SessionDriverError('NO_DRIVER', 'session', 'no driver to check');
      const result = await this.health.once(driver);
      if (result.state === 'CONNECTED') {
        this.host.ready();
        return;
      }
      lastError = notConnected(result.state);
    }
    throw lastError instanceof Error ? lastError : new Error('stopped');
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
}
