import { SessionDriverError, SessionErrorCode } from '../../session.errors';
import { ACK_ERROR, ACK_PENDING, ACK_SERVER } from './wwebjs-events';

/**
 * The server acks of one client's messages, and the sends waiting for one. sendMessage resolves
 * once a message is in WhatsApp Web's local store; only an ack >= 1 says the server has it
 * (wwebjs#3692; `waitUntilMsgSent` is unreliable, #201870). Acks can come before sendMessage
 * resolves, so the highest seen per WhatsApp id is kept.
 */
export class AckTracker {
  /** Highest ack seen per WhatsApp id (acks can come before sendMessage resolves). */
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Set<{
    waMessageId: string;
    settle: (ack: number | Error) => void;
  }>();
  /**
   * Bumped each time the page the sends went through is lost, stopped or reloaded. A send takes
   * it before calling sendMessage ({@link epoch}); one whose sendMessage resolves after a bump
   * (during the client's teardown or the reload) is told at once that its outcome is unknown,
   * instead of waiting, job held, for an ack that page may never report.
   */
  private current = 0;

  /** The page's epoch, taken by a send before it calls sendMessage. */
  get epoch(): number {
    return this.current;
  }

  /** The highest ack seen for this id, or undefined. */
  highest(waMessageId: string): number | undefined {
    return this.seen.get(waMessageId);
  }

  /** Records a `message_ack`, and settles the sends waiting for it (ack >= 1, or -1). */
  note(waMessageId: string, ack: number): void {
    const prev = this.seen.get(waMessageId);
    if (ack === ACK_ERROR || prev === undefined || ack > prev) this.seen.set(waMessageId, ack);
    trim(this.seen, 2000);
    if (ack === ACK_ERROR || ack >= ACK_SERVER) {
      for (const w of [...this.waiters]) if (w.waMessageId === waMessageId) w.settle(ack);
    }
  }

  /**
   * Resolves once the server has the message (ack >= 1, already seen or within `timeoutMs`);
   * rejects on ack -1 (a refused send, retryable), on the timeout, and at once when the page
   * changed since `epoch` (the outcome is unknown).
   */
  serverAck(
    waMessageId: string,
    known: number | undefined,
    timeoutMs: number,
    epoch: number,
  ): Promise<void> {
    const ack = Math.max(known ?? ACK_PENDING, this.seen.get(waMessageId) ?? -2);
    if (ack >= ACK_SERVER) return Promise.resolve();
    if (ack === ACK_ERROR || this.seen.get(waMessageId) === ACK_ERROR) {
      return Promise.reject(refusedByServer());
    }
    if (epoch !== this.current) return Promise.reject(lostBeforeAck());
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        waMessageId,
        settle: (value: number | Error) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          if (value instanceof Error) reject(value);
          else if (value === ACK_ERROR) reject(refusedByServer());
          else resolve();
        },
      };
      const timer = setTimeout(
        () =>
          waiter.settle(
            new SessionDriverError(
              SessionErrorCode.UnknownOutcome,
              'unknown_outcome',
              `the message is in WhatsApp Web's local store but the server did not take it (no ack) within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.add(waiter);
    });
  }

  /**
   * The page was lost, stopped or reloaded under sends waiting for their ack: whether the
   * server took them is unknown, and the next run reconciles. A reloaded page may still report
   * some of those acks, but not surely (one that reached the old page in its last moment is
   * not), so waiting would risk holding the job for the whole bound.
   */
  abortWaiters(): void {
    this.current++;
    for (const w of [...this.waiters]) w.settle(lostBeforeAck());
  }
}

/**
 * Always SESSION_CLOSED, whatever ended the page: a code the send path takes as the session
 * lost (the job waits for recovery, no attempt used), never as a retryable send failure.
 */
function lostBeforeAck(): SessionDriverError {
  return new SessionDriverError(
    SessionErrorCode.SessionClosed,
    'unknown_outcome',
    'the session was lost before the server acknowledged the message',
  );
}

function refusedByServer(): SessionDriverError {
  return new SessionDriverError(
    SessionErrorCode.AckError,
    'retryable',
    'WhatsApp refused the message (ack -1)',
  );
}

/** Keeps a map to its newest `max` entries (insertion order). */
export function trim(map: Map<string, unknown>, max: number): void {
  while (map.size > max) map.delete(map.keys().next().value as string);
}
