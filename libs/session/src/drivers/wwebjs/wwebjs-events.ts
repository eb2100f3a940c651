import type { AckStatus, DriverStateEvent } from '../../session-driver';
import { SessionDriverError, SessionErrorCode } from '../../session.errors';
import type { BrowserLostCode } from './browser/browser-watch';

/**
 * What whatsapp-web.js's and Chromium's events mean in the driver contract's words: pure
 * functions, so the mapping reads (and is tested) in one place; WwebjsDriver wires them.
 */

/** whatsapp-web.js ack values (MessageAck). */
export const ACK_ERROR = -1;
export const ACK_PENDING = 0;
export const ACK_SERVER = 1;
export const ACK_DEVICE = 2;
export const ACK_READ = 3;
export const ACK_PLAYED = 4;

/** Disconnect reasons that are the account's, not the browser's: a person must act. */
export const ACCOUNT_REASONS: Record<
  string,
  { status: 'logged_out' | 'failed'; code: string; message: string }
> = {
  LOGOUT: {
    status: 'logged_out',
    code: SessionErrorCode.LoggedOut,
    message: 'The device was unlinked from the phone (LOGOUT): scan the new QR code',
  },
  UNPAIRED: {
    status: 'logged_out',
    code: 'UNPAIRED',
    message: 'The device is no longer paired (UNPAIRED): scan the new QR code',
  },
  UNPAIRED_IDLE: {
    status: 'logged_out',
    code: 'UNPAIRED',
    message: 'The device is no longer paired (UNPAIRED_IDLE): scan the new QR code',
  },
  TOS_BLOCK: {
    status: 'failed',
    code: 'TOS_BLOCK',
    message: 'WhatsApp blocked this number for breaking its terms (TOS_BLOCK)',
  },
  SMB_TOS_BLOCK: {
    status: 'failed',
    code: 'SMB_TOS_BLOCK',
    message: 'WhatsApp blocked this business number (SMB_TOS_BLOCK)',
  },
  DEPRECATED_VERSION: {
    status: 'failed',
    code: 'DEPRECATED_VERSION',
    message:
      'WhatsApp Web refused this client version (DEPRECATED_VERSION): upgrade whatsapp-web.js',
  },
  'Max qrcode retries reached': {
    status: 'failed',
    code: 'QR_NOT_SCANNED',
    message: 'Nobody scanned the QR code in time: recover the session for a new one',
  },
};

/** A `message_ack` value as the contract's ack status; undefined for acks it does not report. */
export function ackStatus(ack: number): AckStatus | undefined {
  if (ack === ACK_DEVICE) return 'delivered';
  if (ack === ACK_READ || ack === ACK_PLAYED) return 'read';
  if (ack === ACK_ERROR) return 'failed';
  return undefined;
}

/**
 * `disconnected(reason)`: an account reason is a status a person must act on (after LOGOUT
 * whatsapp-web.js shows a fresh QR in the same browser, so the driver keeps running); any other
 * reason is a loss the supervisor recovers from.
 */
export function disconnectOutcome(
  reason: string,
): { state: DriverStateEvent } | { lost: SessionDriverError } {
  const account = ACCOUNT_REASONS[reason];
  if (account) {
    return {
      state: { status: account.status, error: { code: account.code, message: account.message } },
    };
  }
  const code = reason === 'CONFLICT' ? SessionErrorCode.Conflict : 'DISCONNECTED';
  const text =
    reason === 'CONFLICT'
      ? 'disconnected: CONFLICT (WhatsApp Web was opened for this account elsewhere)'
      : `disconnected: ${reason}`;
  return { lost: new SessionDriverError(code, 'session', text) };
}

/** What the browser watch saw (browser gone, renderer crashed, page closed) as a session loss. */
export function browserLoss(code: BrowserLostCode, detail: string): SessionDriverError {
  const errCode =
    code === 'BROWSER_CRASHED'
      ? SessionErrorCode.BrowserCrashed
      : code === 'RENDERER_CRASHED'
        ? SessionErrorCode.OutOfMemory
        : SessionErrorCode.SessionClosed;
  return new SessionDriverError(errCode, 'session', detail);
}

/** `ready` without account info: the field's "Client … has no info - marking as invalid". */
export function clientWithoutInfo(): SessionDriverError {
  return new SessionDriverError(
    'CLIENT_NO_INFO',
    'session',
    'whatsapp-web.js reported ready but has no account info',
  );
}
