/**
 * How a failure is handled, decided once, where it is recognised:
 * - `retryable`: this message may succeed later: retry with backoff, using an attempt.
 * - `session`: the session is broken: pause its queue, recover, retry without using an attempt.
 * - `permanent`: this message can never be sent: fail it now with its code.
 * - `unknown_outcome`: a send that may have gone out: never resend before reconciling.
 */
export type FailureClass = 'retryable' | 'session' | 'permanent' | 'unknown_outcome';

export enum SessionErrorCode {
  BrowserCrashed = 'BROWSER_CRASHED',
  FrameDetached = 'FRAME_DETACHED',
  SessionClosed = 'SESSION_CLOSED',
  Conflict = 'CONFLICT',
  LoggedOut = 'LOGGED_OUT',
  OutOfMemory = 'OUT_OF_MEMORY',
  SessionNotReady = 'SESSION_NOT_READY',
  SendTimeout = 'SEND_TIMEOUT',
  UnknownOutcome = 'UNKNOWN_OUTCOME',
  NotOnWhatsApp = 'NOT_ON_WHATSAPP',
  MediaTooLarge = 'MEDIA_TOO_LARGE',
  MediaUnavailable = 'MEDIA_UNAVAILABLE',
  InvalidMedia = 'INVALID_MEDIA',
  SendFailed = 'SEND_FAILED',
  /** The message's sends crashed the session MESSAGE_MAX_ATTEMPTS times (send path). */
  SendCrashedSession = 'SEND_CRASHED_SESSION',
  /** Found in WhatsApp Web's local store, never taken by the server within the bound. */
  SendUnconfirmed = 'SEND_UNCONFIRMED',
  /** WhatsApp's server refused the message (ack -1). */
  AckError = 'ACK_ERROR',
  StartFailed = 'START_FAILED',
  NotSupported = 'NOT_SUPPORTED',
  DriverUnavailable = 'DRIVER_UNAVAILABLE',
  /** No incoming message with that WhatsApp id is known to the session. */
  IncomingNotFound = 'INCOMING_MESSAGE_NOT_FOUND',
  /** The incoming message has no media to download. */
  NoMedia = 'NO_MEDIA',
}

export class SessionDriverError extends Error {
  constructor(
    readonly code: string,
    readonly failure: FailureClass,
    message: string,
  ) {
    super(message);
    this.name = 'SessionDriverError';
  }
}

/** A driver that lacks a feature says so instead of doing nothing. */
export class NotSupportedError extends SessionDriverError {
  constructor(driver: string, feature: string) {
    super(
      SessionErrorCode.NotSupported,
      'permanent',
      `The ${driver} driver does not support ${feature}`,
    );
    this.name = 'NotSupportedError';
  }
}

/** Whatever was thrown, as a SessionDriverError (unrecognised errors are retryable). */
export function asDriverError(err: unknown): SessionDriverError {
  if (err instanceof SessionDriverError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SessionDriverError(SessionErrorCode.SendFailed, 'retryable', message);
}
