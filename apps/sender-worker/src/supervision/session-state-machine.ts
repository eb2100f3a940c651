import type { Logger } from 'pino';
import type {
  DriverStateEvent,
  SessionDriverError,
  SessionError,
  SessionState,
} from '@app/session';

/**
 * The state of one session as its worker reports it, and the transitions between states. The
 * transitions are pure (state in, patch out); {@link SessionStateMachine} applies them in order
 * and hands every change to `changed` (store it, align the queue, publish it).
 */
export class SessionStateMachine {
  private state: SessionState;
  private changes: Promise<void> = Promise.resolve();

  constructor(
    initial: SessionState,
    private readonly changed: (state: SessionState, previous: SessionState) => Promise<void>,
    private readonly log: Logger,
  ) {
    this.state = initial;
  }

  get current(): SessionState {
    return this.state;
  }

  /** Applies a patch now; resolves once it (and every change before it) has been handed on. */
  apply(patch: Partial<SessionState>): Promise<void> {
    const previous = this.state;
    this.state = { ...previous, ...patch, updatedAt: new Date().toISOString() };
    const next = this.state;
    this.changes = this.changes
      .then(() => this.changed(next, previous))
      .catch((err: unknown) => {
        this.log.warn({ err }, 'could not apply a session state change');
      });
    return this.changes;
  }

  /** Resolves once every state change begun so far has been applied. */
  async settled(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.changes;
      await seen;
    } while (seen !== this.changes);
  }
}

/**
 * What a status the driver reported makes of the session. `ready` and `qr` are usable (a QR
 * needs a person, or the simulator, to link it); `logged_out` / `failed` are account signals:
 * the circuit opens and the driver (which shows a new QR after a logout) carries on, nothing
 * restarts it. Anything else (starting, authenticating, disconnected) is on its way; during a
 * recovery the status stays `recovering` until the session is usable again.
 */
export function driverEventPatch(
  state: SessionState,
  ev: DriverStateEvent,
  recovering: boolean,
  now = new Date().toISOString(),
): Partial<SessionState> {
  const error = ev.error ? { ...ev.error, at: now } : undefined;
  switch (ev.status) {
    case 'ready':
      return {
        status: 'ready',
        qr: null,
        phone: ev.phone ?? state.phone,
        restartInProgress: false,
        health: { ...state.health, healthy: true, lastCheckAt: now },
      };
    case 'qr':
      return {
        status: 'qr',
        qr: ev.qr ?? null,
        restartInProgress: false,
        health: { ...state.health, healthy: false },
      };
    case 'logged_out':
    case 'failed':
      return {
        status: ev.status,
        qr: null,
        restartInProgress: false,
        health: { ...state.health, healthy: false },
        ...(error ? { lastError: error } : {}),
      };
    default:
      return {
        status: recovering ? 'recovering' : ev.status,
        qr: null,
        health: { ...state.health, healthy: false },
        ...(error ? { lastError: error } : {}),
      };
  }
}

/** True for driver statuses that end a recovery step (usable again, or an account signal). */
export function endsRecoveryStep(ev: DriverStateEvent): boolean {
  return (
    ev.status === 'ready' ||
    ev.status === 'qr' ||
    ev.status === 'logged_out' ||
    ev.status === 'failed'
  );
}

/** A loss: one more recovery, the cause as the last error. */
export function recoveringPatch(
  state: SessionState,
  cause: SessionDriverError,
): Partial<SessionState> {
  return {
    status: 'recovering',
    restartInProgress: true,
    qr: null,
    health: { ...state.health, healthy: false, recoveries: state.health.recoveries + 1 },
    lastError: errorOf(cause),
  };
}

/** The circuit is open: `failed` with the reason, until a manual recover. */
export function failedPatch(
  state: SessionState,
  cause: SessionDriverError,
  message = cause.message,
): Partial<SessionState> {
  return {
    status: 'failed',
    restartInProgress: false,
    qr: null,
    health: { ...state.health, healthy: false },
    lastError: { code: cause.code, message, at: new Date().toISOString() },
  };
}

export function errorOf(err: SessionDriverError): SessionError {
  return { code: err.code, message: err.message, at: new Date().toISOString() };
}
