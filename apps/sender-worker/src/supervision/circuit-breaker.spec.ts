import { SessionDriverError, SessionErrorCode } from '@app/session';
import { opensCircuit, SendErrorCircuit } from './circuit-breaker';

describe('SendErrorCircuit', () => {
  it('opens after `threshold` identical send errors in a row, and says why', () => {
    const circuit = new SendErrorCircuit(3);
    expect(circuit.note({ ok: false, code: 'SEND_FAILED' })).toBeNull();
    expect(circuit.note({ ok: false, code: 'SEND_FAILED' })).toBeNull();
    const cause = circuit.note({ ok: false, code: 'SEND_FAILED' });
    expect(cause).toBeInstanceOf(SessionDriverError);
    expect(cause).toMatchObject({ code: 'SEND_ERRORS', failure: 'session' });
    expect(cause!.message).toContain('3 sends in a row failed with SEND_FAILED');
  });

  it('keeps saying so for every further failure of that kind', () => {
    const circuit = new SendErrorCircuit(2);
    circuit.note({ ok: false, code: 'X' });
    expect(circuit.note({ ok: false, code: 'X' })).not.toBeNull();
    expect(circuit.note({ ok: false, code: 'X' })!.message).toContain('3 sends in a row');
  });

  it('counts again after a success or an error of another kind', () => {
    const circuit = new SendErrorCircuit(2);
    circuit.note({ ok: false, code: 'X' });
    expect(circuit.note({ ok: true })).toBeNull();
    expect(circuit.note({ ok: false, code: 'X' })).toBeNull();
    expect(circuit.note({ ok: false, code: 'Y' })).toBeNull();
    expect(circuit.note({ ok: false, code: 'Y' })).not.toBeNull();
  });

  it('forgets the run on reset (a manual recover)', () => {
    const circuit = new SendErrorCircuit(2);
    circuit.note({ ok: false, code: 'X' });
    circuit.reset();
    expect(circuit.note({ ok: false, code: 'X' })).toBeNull();
  });
});

describe('opensCircuit', () => {
  it('is true for account signals and permanent failures, false for a session loss', () => {
    expect(opensCircuit(new SessionDriverError('LOGGED_OUT', 'session', 'logged out'))).toBe(true);
    expect(opensCircuit(new SessionDriverError('TOS_BLOCK', 'session', 'banned'))).toBe(true);
    expect(
      opensCircuit(
        new SessionDriverError(SessionErrorCode.DriverUnavailable, 'permanent', 'no driver'),
      ),
    ).toBe(true);
    expect(
      opensCircuit(new SessionDriverError(SessionErrorCode.BrowserCrashed, 'session', 'gone')),
    ).toBe(false);
  });
});
