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
   * Set once the client is gone (the driver lost or stopped it): the code of that loss. A send
   * whose sendMessage resolves after that (during the client's teardown) would wait for an ack
   * that no page will ever report, holding its job until the bound: it is told at once instead.
   */
  private closedBy: string | null = null;

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
   * rejects on ack -1 (a refused send, retryable) and on the timeout (the outcome is unknown).
   */
  serverAck(waMessageId: string, known: number | undefined, timeoutMs: number): Promise<void> {
    const ack = Math.max(known ?? ACK_PENDING, this.seen.get(waMessageId) ?? -2);
    if (ack >= ACK_SERVER) return Promise.resolve();
    if (ack === ACK_ERROR || this.seen.get(waMessageId) === ACK_ERROR) {
      return Promise.reject(refusedByServer());
    }
    if (this.closedBy !== null) return Promise.reject(lostBeforeAck(this.closedBy));
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
   * The page died or reloaded under sends waiting for their ack: whether the server took them
   * is unknown (the next run reconciles). An ack the server sent to that page is not reported
   * again by the next one, so waiting on would only run out the bound.
   */
  abortWaiters(code: string): void {
    for (const w of [...this.waiters]) w.settle(lostBeforeAck(code));
  }

  /** The client is gone for good: abort the waiting sends, and any that come later. */
  close(code: string): void {
    this.closedBy ??= code;
    this.abortWaiters(code);
  }
}

function lostBeforeAck(code: string): SessionDriverError {
  return new SessionDriverError(
    code,
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
