import { SessionDriverError } from '@app/session';
import { ACCOUNT_SIGNALS } from './recovery-policy';

/**
 * When a session stops trying on its own (status `failed`, queue paused, only
 * `POST …/recover` restarts it): retrying would not help, and hammering WhatsApp after a ban,
 * an unlink or a run of identical refusals makes things worse.
 */

/** An account signal (logout, unpaired, ban, outdated client): never retried. */
export function isAccountSignal(err: SessionDriverError): boolean {
  return ACCOUNT_SIGNALS.has(err.code);
}

/** A loss that opens the circuit at once instead of starting a recovery. */
export function opensCircuit(err: SessionDriverError): boolean {
  return isAccountSignal(err) || err.failure === 'permanent';
}

export type SendOutcome = { ok: true } | { ok: false; code: string };

/**
 * SEND_ERROR_CIRCUIT: counts retryable send errors of one kind in a row. A success or another
 * code starts the count again; from `threshold` on, every further failure of that kind says
 * the circuit must open.
 */
export class SendErrorCircuit {
  private run = { code: '', count: 0 };

  constructor(private readonly threshold: number) {}

  /** Notes one send's outcome; returns why the circuit must open, or null. */
  note(outcome: SendOutcome): SessionDriverError | null {
    if (outcome.ok) {
      this.reset();
      return null;
    }
    this.run =
      this.run.code === outcome.code
        ? { code: outcome.code, count: this.run.count + 1 }
        : { code: outcome.code, count: 1 };
    if (this.run.count < this.threshold) return null;
    const { code, count } = this.run;
    return new SessionDriverError(
      'SEND_ERRORS',
      'session',
      `${count} sends in a row failed with ${code}: sending is paused to protect the account; fix the cause, then POST /api/sessions/:id/recover`,
    );
  }

  reset(): void {
    this.run = { code: '', count: 0 };
  }
}
