import type { Logger } from 'pino';
import {
  classifyError,
  INITIAL_SESSION_STATE,
  SessionDriverError,
  type AckEvent,
  type IncomingMessage,
  type DriverStateEvent,
  type SessionDriver,
  type SessionState,
} from '@app/session';
import { recycleCause, type RecyclePolicy } from './browser-recycle-policy';
import { opensCircuit, SendErrorCircuit, type SendOutcome } from './circuit-breaker';
import { HealthProbe } from './health-probe';
import { RecoveryLoop, type RecoveryOptions } from './recovery-loop';
import type { SupervisionObserver } from './supervision.metrics';
import { firstStep } from './recovery-policy';
import {
  driverEventPatch,
  endsRecoveryStep,
  failedPatch,
  SessionStateMachine,
} from './session-state-machine';

export interface SupervisorOptions extends RecoveryOptions, RecyclePolicy {
  healthCheckIntervalMs: number;
  healthCheckTimeoutMs: number;
  /** SEND_ERROR_CIRCUIT: retryable send errors of one kind in a row that stop the session. */
  sendErrorCircuit: number;
}

export interface SupervisorHooks {
  /** A new driver for this session (throws when its engine is unavailable). */
  createDriver(): SessionDriver;
  /** The state changed: store it, align the queue, publish it. Called in order. */
  changed(state: SessionState, previous: SessionState): Promise<void>;
  ack(event: AckEvent): void;
  /** A message someone sent the account (any driver run's: a received message is a fact). */
  incoming?(message: IncomingMessage): void;
  /** Resolves once the send in flight (if any) has finished, or after `timeoutMs`. */
  drain?(timeoutMs: number): Promise<void>;
  /** Told about recovery steps and loss detection (metrics). */
  observer?: SupervisionObserver;
}

/**
 * Supervises one session: owns its driver (one per run, counted by `generation` so a dead
 * driver's late events are ignored) and routes what happens to the parts that decide:
 * - the state machine (`session-state-machine.ts`), fed by the driver's events;
 * - the periodic probe (`health-probe.ts`): two failures in a row are a loss;
 * - the recovery loop (`recovery-loop.ts`): a loss starts one recovery that escalates;
 * - the circuit breaker (`circuit-breaker.ts`): account signals and a run of identical send
 *   errors stop the session instead of retrying;
 * - the recycle policy (`browser-recycle-policy.ts`): a browser too big or too old is
 *   replaced on purpose.
 * Driver-agnostic.
 */
export class SessionSupervisor {
  private driver: SessionDriver | null = null;
  private generation = 0;
  private stopped = false;
  private probeTimer: NodeJS.Timeout | null = null;
  private launchedAt = 0;
  private readonly machine: SessionStateMachine;
  private readonly health: HealthProbe;
  private readonly sendErrors: SendErrorCircuit;
  private readonly recovery: RecoveryLoop;

  constructor(
    private readonly hooks: SupervisorHooks,
    private readonly opts: SupervisorOptions,
    private readonly log: Logger,
    previous: SessionState,
  ) {
    // Health history survives a change of owner; the rest is learnt again from the driver.
    this.machine = new SessionStateMachine(
      { ...INITIAL_SESSION_STATE, health: { ...previous.health, healthy: false } },
      (state, before) => hooks.changed(state, before),
      log,
    );
    this.health = new HealthProbe(opts.healthCheckTimeoutMs);
    this.sendErrors = new SendErrorCircuit(opts.sendErrorCircuit);
    this.recovery = new RecoveryLoop(
      {
        isStopped: () => this.stopped,
        driver: () => this.driver,
        relaunch: () => this.relaunch(),
        openCircuit: (cause, message) => this.openCircuit(cause, message),
        ready: () => this.onDriverState({ status: 'ready' }),
        drain: hooks.drain ? (ms) => hooks.drain!(ms) : undefined,
      },
      this.machine,
      this.health,
      opts,
      log,
      hooks.observer,
    );
  }

  get current(): SessionState {
    return this.machine.current;
  }

  get recovering(): boolean {
    return this.recovery.active;
  }

  start(): void {
    void this.machine.apply({ status: 'starting', qr: null });
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
    this.recovery.cancel();
    const driver = this.driver;
    this.driver = null;
    this.generation++;
    await driver?.stop(opts).catch((err: unknown) => this.log.warn({ err }, 'driver stop failed'));
    await this.settled();
  }

  /** The driver, only while the session can send. */
  readyDriver(): SessionDriver | null {
    return this.machine.current.status === 'ready' && !this.stopped ? this.driver : null;
  }

  /** The driver in whatever state (pairing codes, fault injection). */
  activeDriver(): SessionDriver | null {
    return this.stopped ? null : this.driver;
  }

  /** Resolves once every state change begun so far has been applied. */
  settled(): Promise<void> {
    return this.machine.settled();
  }

  /** The session was lost (driver event, failed probe, or the send path). */
  lost(err: SessionDriverError, generation = this.generation): void {
    if (this.stopped || generation !== this.generation) return;
    if (this.recovery.active) {
      // Already recovering: this failure ends the current step, which escalates.
      this.recovery.interrupt(err);
      return;
    }
    if (this.machine.current.status === 'failed') return; // circuit open: only a manual recover
    if (opensCircuit(err)) {
      void this.openCircuit(err);
      return;
    }
    // The loss's first sign: the first of the failed probes that declared it, or now.
    const probed = this.health.troubleSince();
    this.recovery.begin(err, firstStep(err), {
      detected: { since: probed ?? Date.now(), trigger: probed === null ? 'report' : 'probe' },
    });
  }

  /**
   * A send found the session lost on `driver`. It is not a new loss when `driver` was replaced
   * since, or while a recovery reloads the page or relaunches the browser: that step is what
   * ended the sends in flight (taken as a loss, it would end the step that caused it and stop
   * the browser it had just launched). Otherwise it is (a re-check changes nothing, so a send
   * failing then is news). Known gap: the moment between a relaunched driver's `ready` and
   * the end of its step, where a send may already run; the probe and the next send catch a
   * loss there.
   */
  sendLost(err: SessionDriverError, driver: SessionDriver | undefined): void {
    if (this.recovery.replacingPage || (driver && driver !== this.driver)) {
      this.log.debug({ code: err.code }, 'a send failed under a recovery already under way');
      return;
    }
    this.lost(err);
  }

  /** `POST …/recover`: recover now, from any state, `failed` included. */
  async recover(): Promise<void> {
    if (this.stopped) return;
    this.sendErrors.reset();
    this.recovery.resetAttempts();
    if (this.recovery.active) {
      this.recovery.skipWait();
      return;
    }
    this.recovery.begin(
      new SessionDriverError('RECOVERY_REQUESTED', 'session', 'recovery requested through the API'),
      'relaunch',
    );
    await this.settled();
  }

  /** The send path's outcomes: a run of identical retryable errors opens the circuit. */
  noteSend(outcome: SendOutcome): void {
    const cause = this.sendErrors.note(outcome);
    if (cause) void this.openCircuit(cause);
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
    driver.on('incoming', (m) => this.hooks.incoming?.(m));
    return generation;
  }

  private onDriverState(ev: DriverStateEvent): void {
    if (ev.status === 'ready') this.health.passed();
    void this.machine.apply(driverEventPatch(this.machine.current, ev, this.recovery.active));
    if (endsRecoveryStep(ev)) this.recovery.stepEnded();
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
    await this.machine.apply(failedPatch(this.machine.current, cause, message));
  }

  private async probe(): Promise<void> {
    const driver = this.readyDriver();
    if (!driver || this.recovery.active) return;
    const generation = this.generation;
    const at = new Date().toISOString();
    try {
      const result = await this.health.connected(driver);
      this.health.passed();
      if (generation === this.generation && this.machine.current.status === 'ready') {
        const state = this.machine.current;
        await this.machine.apply({
          health: { ...state.health, healthy: true, lastCheckAt: at },
          ...(result.memoryMb !== undefined ? { memoryMb: result.memoryMb } : {}),
        });
        this.recycleIfDue(result.memoryMb);
      }
    } catch (err) {
      if (generation !== this.generation) return;
      const { failures, lost } = this.health.failed();
      const e = classifyError(err, { duringSend: false });
      this.log.warn({ code: e.code, failures }, 'health check failed');
      const state = this.machine.current;
      await this.machine.apply({ health: { ...state.health, healthy: false, lastCheckAt: at } });
      if (lost) this.lost(e, generation);
    }
  }

  /** Replaces the browser on purpose when the recycle policy says so (memory, age). */
  private recycleIfDue(memoryMb: number | undefined): void {
    const cause = recycleCause(this.opts, { memoryMb, launchedAt: this.launchedAt });
    if (!cause || this.recovery.active) return;
    this.recovery.begin(cause, 'relaunch', { drainFirst: true });
  }
}
