import { SessionDriverError, SessionErrorCode, type FailureClass } from './session.errors';

/**
 * The texts Chromium, puppeteer and whatsapp-web.js use when the browser side of a session is
 * gone. They arrive as plain Errors (often TargetCloseError / ProtocolError from puppeteer), so
 * the only reliable key is the message.
 */
const CRASH_SIGNATURES: { pattern: RegExp; code: SessionErrorCode }[] = [
  { pattern: /Session closed/i, code: SessionErrorCode.SessionClosed },
  { pattern: /Target closed|TargetCloseError/i, code: SessionErrorCode.BrowserCrashed },
  { pattern: /detached Frame|Frame detached/i, code: SessionErrorCode.FrameDetached },
  { pattern: /Execution context was destroyed/i, code: SessionErrorCode.FrameDetached },
  { pattern: /Runtime\.callFunctionOn timed out/i, code: SessionErrorCode.SessionClosed },
  { pattern: /Page crashed|Out of memory/i, code: SessionErrorCode.OutOfMemory },
  {
    pattern: /Browser (has )?disconnected|Connection closed/i,
    code: SessionErrorCode.BrowserCrashed,
  },
];

/**
 * Maps any error to a SessionDriverError. A crash signature is a `session` failure, except
 * during a send, where the message may have left before the browser died: `unknown_outcome`.
 */
export function classifyError(err: unknown, opts: { duringSend: boolean }): SessionDriverError {
  if (err instanceof SessionDriverError) return err;
  const message = err instanceof Error ? err.message : String(err);
  for (const sig of CRASH_SIGNATURES) {
    if (sig.pattern.test(message)) {
      const failure: FailureClass = opts.duringSend ? 'unknown_outcome' : 'session';
      return new SessionDriverError(sig.code, failure, message);
    }
  }
  return new SessionDriverError(SessionErrorCode.SendFailed, 'retryable', message);
}

/** True when the error text means the browser side of the session is gone. */
export function isCrashSignal(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return CRASH_SIGNATURES.some((s) => s.pattern.test(message));
}
