import pino from 'pino';
import {
  NotSupportedError,
  SessionDriver,
  SessionDriverError,
  SessionErrorCode,
  INITIAL_SESSION_STATE,
  type NumberCheck,
  type ProbeResult,
  type SendResult,
  type SessionState,
} from '@app/session';
import { SessionSupervisor, type SupervisorOptions } from './session-supervisor';
import { waitFor } from '../../../../test/support/wait-for';

/** A scripted driver: the test decides how each start, restart and probe goes. */
class ScriptedDriver extends SessionDriver {
  readonly name = 'simulator' as const;
  starts = 0;
  restarts = 0;
  stopped = false;
  startOutcome: 'ready' | 'qr' | 'crash' = 'ready';
  restartOutcome: 'ready' | 'unsupported' | 'crash' | 'hang' = 'ready';
  probeState = 'CONNECTED';
  /** How long a start or restart takes to report its outcome. */
  bootDelayMs = 5;

  async start(): Promise<void> {
    this.starts++;
    this.boot(this.startOutcome);
  }
  override async restartClient(): Promise<void> {
    this.restarts++;
    if (this.restartOutcome === 'unsupported') throw new NotSupportedError(this.name, 'restart');
    // A reload on a renderer that does not answer: it never settles.
    if (this.restartOutcome === 'hang') return new Promise<void>(() => undefined);
    this.boot(this.restartOutcome);
  }
  private boot(outcome: 'ready' | 'qr' | 'crash'): void {
    setTimeout(() => {
      if (this.stopped) return;
      this.emit('state', { status: 'starting' });
      if (outcome === 'crash')
        this.emit(
          'lost',
          new SessionDriverError(SessionErrorCode.BrowserCrashed, 'session', 'Target closed'),
        );
      else if (outcome === 'qr') this.emit('state', { status: 'qr', qr: '2@qr' });
      else this.emit('state', { status: 'ready', phone: '15550000000' });
    }, this.bootDelayMs);
  }
  /** Runs while the driver stops (a real one kills its browser then: its sends fail). */
  onStop: () => void = () => undefined;
  async stop(): Promise<void> {
    this.stopped = true;
    this.onStop();
  }
  async send(): Promise<SendResult> {
    throw new Error('not used');
  }
  async findSent(): Promise<SendResult | null> {
    return null;
  }
  memoryMb = 300;
  async probe(): Promise<ProbeResult> {
    if (this.probeState === 'DEAD')
      throw new Error('Protocol error (Runtime.callFunctionOn): Session closed.');
    return { state: this.probeState, memoryMb: this.memoryMb };
  }
  async checkNumber(chatId: string): Promise<NumberCheck> {
    return { chatId, onWhatsApp: true };
  }
  async requestPairingCode(): Promise<string> {
    return 'ABCD-EFGH';
  }
}

const OPTS: SupervisorOptions = {
  recoveryMaxAttempts: 3,
  healthCheckIntervalMs: 60000,
  healthCheckTimeoutMs: 200,
  recoveryStepTimeoutMs: 500,
  sendErrorCircuit: 3,
};

const until = (what: string, check: () => boolean, ms = 5000) => waitFor(what, check, ms, 5);

describe('SessionSupervisor', () => {
  let drivers: ScriptedDriver[];
  let states: SessionState[];
  let supervisor: SessionSupervisor;
  let nextDriver: () => ScriptedDriver;
  /** What the supervisor told its observer (metrics), in order. */
  let observed: string[];

  function make(opts: Partial<SupervisorOptions> = {}, createDriver?: () => SessionDriver) {
    drivers = [];
    states = [];
    observed = [];
    nextDriver = () => new ScriptedDriver();
    supervisor = new SessionSupervisor(
      {
        createDriver:
          createDriver ??
          (() => {
            const d = nextDriver();
            drivers.push(d);
            return d;
          }),
        changed: async (state) => {
          states.push(state);
        },
        ack: () => undefined,
        observer: {
          recoveryStep: (step, outcome) => observed.push(`${step}:${outcome}`),
          lossDetected: (ms, trigger) => observed.push(`detected:${trigger}:${ms >= 0}`),
        },
      },
      { ...OPTS, ...opts },
      pino({ level: 'silent' }),
      INITIAL_SESSION_STATE,
    );
  }

  const statuses = () => states.map((s) => s.status).filter((s, i, a) => i === 0 || a[i - 1] !== s);
  const status = () => supervisor.current.status;

  afterEach(async () => {
    await supervisor.stop();
  });

  it('starts the driver and reports ready', async () => {
    make();
    supervisor.start();
    await until('ready', () => status() === 'ready');
    expect(statuses()).toEqual(['starting', 'ready']);
    expect(supervisor.readyDriver()).toBe(drivers[0]);
  });

  it('restarts the client in place after a detached frame, without relaunching the browser', async () => {
    make();
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].emit(
      'lost',
      new SessionDriverError(
        SessionErrorCode.FrameDetached,
        'session',
        'Attempted to use detached Frame',
      ),
    );
    expect(status()).toBe('recovering');
    expect(supervisor.readyDriver()).toBeNull();
    await until('ready again', () => status() === 'ready');
    expect(drivers).toHaveLength(1);
    expect(drivers[0].restarts).toBe(1);
    expect(supervisor.current).toMatchObject({
      restartInProgress: false,
      lastError: { code: 'FRAME_DETACHED' },
      health: { recoveries: 1, healthy: true },
    });
  });

  it('escalates to relaunching the browser when the client cannot be restarted in place', async () => {
    make();
    nextDriver = () =>
      Object.assign(new ScriptedDriver(), { restartOutcome: 'unsupported' as const });
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].emit(
      'lost',
      new SessionDriverError(SessionErrorCode.SessionClosed, 'session', 'Session closed'),
    );
    await until('ready again', () => status() === 'ready' && drivers.length === 2);
    expect(drivers[0].stopped).toBe(true);
    expect(drivers[1].starts).toBe(1);
  });

  it('gives a restart that never settles the step timeout, then relaunches', async () => {
    make();
    nextDriver = () => Object.assign(new ScriptedDriver(), { restartOutcome: 'hang' as const });
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].emit(
      'lost',
      new SessionDriverError(SessionErrorCode.SessionClosed, 'session', 'Session closed'),
    );
    await until('ready again', () => status() === 'ready' && drivers.length === 2);
    expect(drivers[0].restarts).toBe(1);
    expect(drivers[0].stopped).toBe(true);
    expect(supervisor.current.lastError?.code).toBe('RECOVERY_TIMEOUT');
  });

  it('relaunches at once when the page did not answer a probe at all', async () => {
    make();
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].emit(
      'lost',
      new SessionDriverError(
        'HEALTH_CHECK_TIMEOUT',
        'session',
        'the session did not answer in time',
      ),
    );
    await until('ready again', () => status() === 'ready' && drivers.length === 2);
    expect(drivers[0].restarts).toBe(0);
  });

  it('tells its observer when a reported loss was detected and how each recovery step went', async () => {
    make();
    nextDriver = () =>
      Object.assign(new ScriptedDriver(), { restartOutcome: 'unsupported' as const });
    supervisor.start();
    await until('ready', () => status() === 'ready');
    expect(observed).toEqual([]);
    drivers[0].emit(
      'lost',
      new SessionDriverError(SessionErrorCode.SessionClosed, 'session', 'Session closed'),
    );
    await until('ready again', () => status() === 'ready' && drivers.length === 2);
    await until('the step counted', () => observed.length === 3);
    expect(observed).toEqual([
      'detected:report:true',
      'restart-client:failed',
      'relaunch:recovered',
    ]);
  });

  it('dates a loss found by the probes from the first failed probe (trigger probe)', async () => {
    make({ healthCheckIntervalMs: 20 });
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].probeState = 'TIMEOUT';
    await until('lost by the probe', () => status() === 'recovering');
    drivers[0].probeState = 'CONNECTED';
    await until('ready again', () => status() === 'ready');
    await until('the step counted', () => observed.length === 2);
    expect(observed).toEqual(['detected:probe:true', 'recheck:recovered']);
  });

  it('relaunches at once when the browser itself crashed', async () => {
    make();
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].emit(
      'lost',
      new SessionDriverError(SessionErrorCode.BrowserCrashed, 'session', 'Target closed'),
    );
    await until('ready again', () => status() === 'ready' && drivers.length === 2);
    expect(drivers[0].restarts).toBe(0);
  });

  it('a send on the driver a relaunch replaces fails without ending that relaunch', async () => {
    make();
    supervisor.start();
    await until('ready', () => status() === 'ready');
    const crash = () =>
      new SessionDriverError(SessionErrorCode.BrowserCrashed, 'session', 'Target closed');
    // The relaunch stops the frozen driver, whose browser dies with the send in flight; the send
    // path reports that loss while the new driver is being started.
    drivers[0].onStop = () => supervisor.sendLost(crash(), drivers[0]);
    drivers[0].emit(
      'lost',
      new SessionDriverError('HEALTH_CHECK_TIMEOUT', 'session', 'the session did not answer'),
    );
    await until('ready again', () => status() === 'ready' && drivers.length === 2);
    await until('the step counted', () => observed.length === 2);
    expect(observed).toEqual(['detected:report:true', 'relaunch:recovered']);
    expect(drivers[1].stopped).toBe(false);
    expect(supervisor.current.health.recoveries).toBe(1);
    // Nor does a send on the old driver that fails after the recovery (a hung call).
    supervisor.sendLost(crash(), drivers[0]);
    expect(status()).toBe('ready');
    // A send that fails on the current driver is a loss, as before.
    supervisor.sendLost(crash(), drivers[1]);
    expect(status()).toBe('recovering');
    await until('ready on a third driver', () => status() === 'ready' && drivers.length === 3);
  });

  it('a send the reload fails (it waited on the old page) does not end the restart step', async () => {
    make();
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].bootDelayMs = 100;
    drivers[0].emit(
      'lost',
      new SessionDriverError(SessionErrorCode.FrameDetached, 'session', 'detached Frame'),
    );
    await until('the reload begun', () => drivers[0].restarts === 1);
    // The reload aborts the send waiting for its ack; the send path reports it on this driver.
    supervisor.sendLost(
      new SessionDriverError(SessionErrorCode.SessionClosed, 'unknown_outcome', 'lost before ack'),
      drivers[0],
    );
    await until('ready again', () => status() === 'ready');
    await until('the step counted', () => observed.length === 2);
    expect(observed).toEqual(['detected:report:true', 'restart-client:recovered']);
    expect(drivers).toHaveLength(1);
    expect(drivers[0].restarts).toBe(1);
  });

  it('re-checks first after failed probes: a transient state that clears needs no restart', async () => {
    make({ healthCheckIntervalMs: 20 });
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].probeState = 'TIMEOUT';
    await until('lost by the probe', () => status() === 'recovering');
    drivers[0].probeState = 'CONNECTED';
    await until('ready again', () => status() === 'ready');
    expect(drivers).toHaveLength(1);
    expect(drivers[0].restarts).toBe(0);
    expect(supervisor.current.lastError?.code).toBe('HEALTH_CHECK_FAILED');
  });

  it('gives up as failed after RECOVERY_MAX_ATTEMPTS, and a manual recover brings it back', async () => {
    make();
    nextDriver = () =>
      Object.assign(new ScriptedDriver(), {
        startOutcome: drivers.length === 0 ? ('ready' as const) : ('crash' as const),
      });
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].emit(
      'lost',
      new SessionDriverError(SessionErrorCode.BrowserCrashed, 'session', 'Target closed'),
    );
    await until('failed', () => status() === 'failed', 8000);
    expect(drivers).toHaveLength(1 + OPTS.recoveryMaxAttempts);
    expect(supervisor.current.lastError?.message).toMatch(/gave up after 3 recovery attempts/);
    expect(supervisor.current.restartInProgress).toBe(false);

    nextDriver = () => new ScriptedDriver();
    await supervisor.recover();
    await until('ready after manual recover', () => status() === 'ready');
  });

  it('does not retry account signals: a ban or an unlink opens the circuit', async () => {
    make();
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].emit('state', { status: 'failed', error: { code: 'TOS_BLOCK', message: 'banned' } });
    await until('failed', () => status() === 'failed');
    drivers[0].emit('lost', new SessionDriverError('UNPAIRED', 'session', 'unpaired'));
    await supervisor.settled();
    expect(status()).toBe('failed');
    expect(drivers).toHaveLength(1);
    expect(drivers[0].restarts).toBe(0);
  });

  it('opens the circuit after a run of identical send errors, not after mixed ones', async () => {
    make();
    supervisor.start();
    await until('ready', () => status() === 'ready');
    supervisor.noteSend({ ok: false, code: 'SEND_FAILED' });
    supervisor.noteSend({ ok: false, code: 'SEND_FAILED' });
    supervisor.noteSend({ ok: true });
    supervisor.noteSend({ ok: false, code: 'SEND_FAILED' });
    supervisor.noteSend({ ok: false, code: 'MEDIA_UNAVAILABLE' });
    await supervisor.settled();
    expect(status()).toBe('ready');
    supervisor.noteSend({ ok: false, code: 'SEND_FAILED' });
    supervisor.noteSend({ ok: false, code: 'SEND_FAILED' });
    supervisor.noteSend({ ok: false, code: 'SEND_FAILED' });
    await until('failed', () => status() === 'failed');
    expect(supervisor.current.lastError).toMatchObject({
      code: 'SEND_ERRORS',
      message: expect.stringContaining('SEND_FAILED'),
    });
  });

  it('marks a session failed at once when its driver cannot exist', async () => {
    make({}, () => {
      throw new SessionDriverError(
        SessionErrorCode.DriverUnavailable,
        'permanent',
        'no such engine',
      );
    });
    supervisor.start();
    await until('failed', () => status() === 'failed');
    expect(supervisor.current.lastError?.code).toBe('DRIVER_UNAVAILABLE');
  });

  it('reports a QR after recovery as usable (waiting for a scan), not as a failure', async () => {
    make();
    supervisor.start();
    await until('ready', () => status() === 'ready');
    drivers[0].startOutcome = 'qr';
    drivers[0].restartOutcome = 'ready';
    drivers[0].emit('state', {
      status: 'logged_out',
      error: { code: 'LOGGED_OUT', message: 'unlinked' },
    });
    await until('logged out', () => status() === 'logged_out');
    drivers[0].emit('state', { status: 'qr', qr: '2@new' });
    await until('qr', () => status() === 'qr');
    expect(supervisor.current.qr).toBe('2@new');
    expect(drivers[0].restarts).toBe(0);
  });

  it('recycles a browser past BROWSER_MEMORY_LIMIT_MB after the send in flight, and reports its memory', async () => {
    let drained = 0;
    drivers = [];
    states = [];
    supervisor = new SessionSupervisor(
      {
        createDriver: () => {
          const d = new ScriptedDriver();
          drivers.push(d);
          return d;
        },
        changed: async (state) => {
          states.push(state);
        },
        ack: () => undefined,
        drain: async () => {
          drained++;
        },
      },
      { ...OPTS, healthCheckIntervalMs: 20, memoryLimitMb: 500 },
      pino({ level: 'silent' }),
      INITIAL_SESSION_STATE,
    );
    supervisor.start();
    await until(
      'ready with memory',
      () => status() === 'ready' && supervisor.current.memoryMb === 300,
    );
    drivers[0].memoryMb = 800;
    await until('recycled', () => drivers.length === 2 && status() === 'ready');
    expect(drained).toBe(1);
    expect(drivers[0].stopped).toBe(true);
    expect(
      states.some((st) => st.status === 'recovering' && st.lastError?.code === 'MEMORY_LIMIT'),
    ).toBe(true);
  });

  it('recycles every browser after BROWSER_RECYCLE_HOURS', async () => {
    make({ healthCheckIntervalMs: 20, recycleAfterMs: 150 });
    supervisor.start();
    await until('ready', () => status() === 'ready');
    await until('recycled on schedule', () => drivers.length >= 2 && status() === 'ready');
    expect(states.some((st) => st.lastError?.code === 'SCHEDULED_RECYCLE')).toBe(true);
  });
});
