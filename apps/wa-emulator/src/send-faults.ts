export type SendFaultMode = 'ok' | 'undefined' | 'fail' | 'hang';
export const SEND_FAULT_MODES: readonly SendFaultMode[] = ['ok', 'undefined', 'fail', 'hang'];

interface ArmedFault {
  mode: SendFaultMode;
  /** Sends left to fault; Infinity = until reset. */
  remaining: number;
}

/**
 * Per-account send faults: the next `count` sends (or all until reset) behave as `mode`.
 * `undefined`: the server has the message but whatsapp-web.js's sendMessage resolves undefined;
 * `fail`: the send rejects; `hang`: it never settles.
 */
export class SendFaults {
  private readonly armed = new Map<string, ArmedFault>();

  set(phone: string, mode: SendFaultMode, count?: number): void {
    if (mode === 'ok') {
      this.armed.delete(phone);
      return;
    }
    this.armed.set(phone, { mode, remaining: count ?? Infinity });
  }

  /** The mode of the next send of `phone`, consuming one faulted send. */
  take(phone: string): SendFaultMode {
    const fault = this.armed.get(phone);
    if (!fault) return 'ok';
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.armed.delete(phone);
    return fault.mode;
  }

  clear(): void {
    this.armed.clear();
  }
}
