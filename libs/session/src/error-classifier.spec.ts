import { classifyError, isCrashSignal } from './error-classifier';
import { SessionDriverError, SessionErrorCode } from './session.errors';

/** What puppeteer, Chromium and whatsapp-web.js say when the browser side is gone. */
const CRASH_TEXTS: [text: string, code: SessionErrorCode][] = [
  [
    'Protocol error (Runtime.callFunctionOn): Session closed. Most likely the page has been closed.',
    SessionErrorCode.SessionClosed,
  ],
  ['Protocol error (Runtime.callFunctionOn): Target closed.', SessionErrorCode.BrowserCrashed],
  ['TargetCloseError', SessionErrorCode.BrowserCrashed],
  ["Attempted to use detached Frame 'A1B2C3D4E5F6'.", SessionErrorCode.FrameDetached],
  [
    'Execution context was destroyed, most likely because of a navigation.',
    SessionErrorCode.FrameDetached,
  ],
  ['Runtime.callFunctionOn timed out', SessionErrorCode.SessionClosed],
  ['Page crashed!', SessionErrorCode.OutOfMemory],
];

const ORDINARY_TEXTS = [
  'Evaluation failed: TypeError: Cannot read properties of undefined (reading "id")',
  'getaddrinfo ENOTFOUND mmg.whatsapp.net',
  'Request failed with status code 500',
  '',
];

describe('classifyError', () => {
  describe.each(CRASH_TEXTS)('crash text %p', (text, code) => {
    it(`is a session failure (${code}) outside a send`, () => {
      const err = classifyError(new Error(text), { duringSend: false });
      expect(err).toBeInstanceOf(SessionDriverError);
      expect({ code: err.code, failure: err.failure }).toEqual({ code, failure: 'session' });
      expect(err.message).toBe(text);
    });

    it(`is an unknown outcome (${code}) during a send: the message may have left`, () => {
      const err = classifyError(new Error(text), { duringSend: true });
      expect({ code: err.code, failure: err.failure }).toEqual({
        code,
        failure: 'unknown_outcome',
      });
    });

    it('is recognised when thrown as a string', () => {
      expect(classifyError(text, { duringSend: false }).code).toBe(code);
    });

    it('is a crash signal', () => {
      expect(isCrashSignal(new Error(text))).toBe(true);
    });
  });

  it.each(ORDINARY_TEXTS)('classifies the ordinary error %p as retryable', (text) => {
    for (const duringSend of [false, true]) {
      const err = classifyError(new Error(text), { duringSend });
      expect({ code: err.code, failure: err.failure }).toEqual({
        code: SessionErrorCode.SendFailed,
        failure: 'retryable',
      });
      expect(isCrashSignal(new Error(text))).toBe(false);
    }
  });

  it('classifies non-Error values by their text', () => {
    expect(classifyError(42, { duringSend: false }).failure).toBe('retryable');
    expect(classifyError(undefined, { duringSend: true }).message).toBe('undefined');
  });

  it('passes a SessionDriverError through untouched, whatever its text', () => {
    const original = new SessionDriverError(
      SessionErrorCode.NotOnWhatsApp,
      'permanent',
      'Protocol error: Target closed.',
    );
    expect(classifyError(original, { duringSend: true })).toBe(original);
  });
});
