import pino from 'pino';
import { INITIAL_SESSION_STATE, SessionDriverError, type SessionState } from '@app/session';
import {
  driverEventPatch,
  endsRecoveryStep,
  failedPatch,
  recoveringPatch,
  SessionStateMachine,
} from './session-state-machine';

const NOW = '2026-01-01T00:00:00.000Z';
const state: SessionState = {
  ...INITIAL_SESSION_STATE,
  phone: '15550000000',
  health: { healthy: true, lastCheckAt: null, recoveries: 2 },
};

describe('session state transitions', () => {
  it('ready: usable, healthy, keeps the known phone when the driver gives none', () => {
    expect(driverEventPatch(state, { status: 'ready' }, true, NOW)).toMatchObject({
      status: 'ready',
      phone: '15550000000',
      restartInProgress: false,
      health: { healthy: true, lastCheckAt: NOW, recoveries: 2 },
    });
  });

  it('starting during a recovery stays `recovering`; outside one it is shown as is', () => {
    expect(driverEventPatch(state, { status: 'starting' }, true, NOW).status).toBe('recovering');
    expect(driverEventPatch(state, { status: 'starting' }, false, NOW).status).toBe('starting');
  });

  it('an account signal carries its error, stamped', () => {
    const patch = driverEventPatch(
      state,
      { status: 'logged_out', error: { code: 'LOGGED_OUT', message: 'unlinked' } },
      false,
      NOW,
    );
    expect(patch).toMatchObject({
      status: 'logged_out',
      lastError: { code: 'LOGGED_OUT', message: 'unlinked', at: NOW },
    });
  });

  it('ends a recovery step on ready, qr and account signals only', () => {
    expect(
      ['ready', 'qr', 'logged_out', 'failed'].every((s) =>
        endsRecoveryStep({ status: s as never }),
      ),
    ).toBe(true);
    expect(endsRecoveryStep({ status: 'authenticating' })).toBe(false);
  });

  it('a loss counts one more recovery; an open circuit is `failed` with the reason', () => {
    const cause = new SessionDriverError('BROWSER_CRASHED', 'session', 'gone');
    expect(recoveringPatch(state, cause)).toMatchObject({
      status: 'recovering',
      restartInProgress: true,
      health: { healthy: false, recoveries: 3 },
      lastError: { code: 'BROWSER_CRASHED', message: 'gone' },
    });
    expect(failedPatch(state, cause, 'gave up')).toMatchObject({
      status: 'failed',
      lastError: { code: 'BROWSER_CRASHED', message: 'gave up' },
    });
  });
});

describe('SessionStateMachine', () => {
  it('hands every change on in order, and settles only after the last one', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const machine = new SessionStateMachine(
      INITIAL_SESSION_STATE,
      async (next, previous) => {
        if (next.status === 'qr') await gate;
        seen.push(`${previous.status}->${next.status}`);
      },
      pino({ level: 'silent' }),
    );
    void machine.apply({ status: 'qr' });
    void machine.apply({ status: 'ready' });
    expect(machine.current.status).toBe('ready');
    let settled = false;
    const settling = machine.settled().then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    release();
    await settling;
    expect(seen).toEqual(['starting->qr', 'qr->ready']);
  });

  it('keeps going when one change cannot be applied', async () => {
    const seen: string[] = [];
    const machine = new SessionStateMachine(
      INITIAL_SESSION_STATE,
      async (next) => {
        if (next.status === 'qr') throw new Error('redis down');
        seen.push(next.status);
      },
      pino({ level: 'silent' }),
    );
    await machine.apply({ status: 'qr' });
    await machine.apply({ status: 'ready' });
    expect(seen).toEqual(['ready']);
  });
});
