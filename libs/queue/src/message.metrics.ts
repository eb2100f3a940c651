import { Counter, Histogram } from 'prom-client';
import { boundedCode, metricsRegistry } from '@app/core';
import type { MessageError, MessageStatus } from './jobs';

/**
 * Message counters, per session. Each fact is counted once across the fleet by the one process
 * that made it: `accepted` by the gateway that answered 202, a status by whoever won the
 * record's compare-and-set (`MessageStore.transition`: a gateway cancel, a worker's send, the
 * expiry sweep). Never a message id, a phone number or an error text as a label.
 */
const sessionLabel = ['session'] as const;

export const messagesAccepted = new Counter({
  name: 'wa_messages_accepted_total',
  help: 'Messages accepted (answered 202 and stored), by session',
  labelNames: sessionLabel,
  registers: [metricsRegistry],
});

const messagesSent = new Counter({
  name: 'wa_messages_sent_total',
  help: 'Messages that reached status sent, by session',
  labelNames: sessionLabel,
  registers: [metricsRegistry],
});

const messagesFailed = new Counter({
  name: 'wa_messages_failed_total',
  help: 'Messages that reached status failed, by session and error code (unknown codes are OTHER)',
  labelNames: ['session', 'code'] as const,
  registers: [metricsRegistry],
});

const messagesExpired = new Counter({
  name: 'wa_messages_expired_total',
  help: 'Messages whose expiresAt passed before they were sent, by session',
  labelNames: sessionLabel,
  registers: [metricsRegistry],
});

const messagesCancelled = new Counter({
  name: 'wa_messages_cancelled_total',
  help: 'Messages cancelled before they were sent, by session',
  labelNames: sessionLabel,
  registers: [metricsRegistry],
});

const acceptToSent = new Histogram({
  name: 'wa_message_accept_to_sent_seconds',
  help: 'From acceptance (or sendAt, for a scheduled message) to status sent, by session',
  labelNames: sessionLabel,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600],
  registers: [metricsRegistry],
});

/**
 * The codes a failed message can carry (the driver's `SessionErrorCode`s, the send path's and
 * the consistency settler's): the label's bounded set. A spec checks it covers the driver codes.
 */
export const MESSAGE_FAILURE_CODES: ReadonlySet<string> = new Set([
  'NOT_ON_WHATSAPP',
  'MEDIA_TOO_LARGE',
  'MEDIA_UNAVAILABLE',
  'MEDIA_URL_FORBIDDEN',
  'INVALID_MEDIA',
  'UNSUPPORTED_MEDIA_TYPE',
  'SEND_FAILED',
  'SEND_CRASHED_SESSION',
  'SEND_UNCONFIRMED',
  'SEND_TIMEOUT',
  'UNKNOWN_OUTCOME',
  'ACK_ERROR',
  'NOT_SUPPORTED',
  'DRIVER_UNAVAILABLE',
  'START_FAILED',
  'BROWSER_CRASHED',
  'FRAME_DETACHED',
  'SESSION_CLOSED',
  'CONFLICT',
  'LOGGED_OUT',
  'OUT_OF_MEMORY',
  'SESSION_NOT_READY',
  'INCOMING_MESSAGE_NOT_FOUND',
  'NO_MEDIA',
  'EXPIRED',
  'JOB_FAILED',
  'JOB_LOST',
  'MAX_STALLED',
]);

/** A status change that applied (called by `MessageStore.transition`, once per change). */
export function recordStatusChange(change: {
  session: string;
  to: MessageStatus;
  error?: MessageError | null;
  /** When the clock of accept-to-sent starts: createdAt, or sendAt if later. */
  since: number | null;
  at: number;
}): void {
  const session = change.session;
  switch (change.to) {
    case 'sent':
      messagesSent.inc({ session });
      if (change.since !== null && Number.isFinite(change.since))
        acceptToSent.observe({ session }, Math.max(0, change.at - change.since) / 1000);
      return;
    case 'failed':
      messagesFailed.inc({ session, code: boundedCode(change.error?.code, MESSAGE_FAILURE_CODES) });
      return;
    case 'expired':
      messagesExpired.inc({ session });
      return;
    case 'cancelled':
      messagesCancelled.inc({ session });
      return;
    default:
      return;
  }
}
