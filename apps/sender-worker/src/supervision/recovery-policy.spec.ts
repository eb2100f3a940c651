import { SessionDriverError, SessionErrorCode } from '@app/session';
import { firstStep, nextStep, recoveryDelayMs } from './recovery-policy';

const err = (code: string) => new SessionDriverError(code, 'session', code);

describe('recovery policy', () => {
  it('starts where the loss says: relaunch a dead browser, re-check a failed probe, else restart the client', () => {
    expect(firstStep(err(SessionErrorCode.BrowserCrashed))).toBe('relaunch');
    expect(firstStep(err('HEALTH_CHECK_FAILED'))).toBe('recheck');
    expect(firstStep(err(SessionErrorCode.FrameDetached))).toBe('restart-client');
    // No answer at all: a frozen renderer cannot reload either.
    expect(firstStep(err('HEALTH_CHECK_TIMEOUT'))).toBe('relaunch');
    expect(firstStep(err(SessionErrorCode.SessionClosed))).toBe('restart-client');
    expect(firstStep(err(SessionErrorCode.SendTimeout))).toBe('restart-client');
  });

  it('escalates one step per failed try and stays at relaunch', () => {
    expect(nextStep('recheck')).toBe('restart-client');
    expect(nextStep('restart-client')).toBe('relaunch');
    expect(nextStep('relaunch')).toBe('relaunch');
  });

  it('tries at once, then backs off exponentially with jitter, capped at 30 s', () => {
    expect(recoveryDelayMs(1)).toBe(0);
    expect(recoveryDelayMs(2, () => 0.5)).toBe(250);
    expect(recoveryDelayMs(3, () => 0.5)).toBe(500);
    expect(recoveryDelayMs(6, () => 0.5)).toBe(4000);
    expect(recoveryDelayMs(30, () => 0.5)).toBe(30000);
    expect(recoveryDelayMs(4, () => 0)).toBe(800);
    expect(recoveryDelayMs(4, () => 0.999)).toBeLessThanOrEqual(1200);
  });
});
