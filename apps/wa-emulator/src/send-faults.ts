export type SendFaultMode = 'ok' | 'undefined' | 'fail' | 'hang' | 'no-server-ack';
export const SEND_FAULT_MODES: readonly SendFaultMode[] = [
  'ok',
  'undefined',
  'fail',
  'hang',
  'no-server-ack',
];

interface ArmedFault {
  mode: SendFaultMode;
  /** Sends left to fault; Infinity = until reset. */
  remaining: number;
}

/**
 * Per-account send faults: the next `count` sends (or all until reset) behave as `mode` (the
 * page asks for the mode of each send first: page/messages.js addAndSendMsgToChat).
 * `undefined`: the server has the message but whatsapp-web.js's sendMessage resolves undefined;
 * `fail`: the server refuses it (ack -1; sendMessage has resolved with the Msg at ack 0);
 * `no-server-ack`: stored locally at ack 0, the server never gets it (no ack ever);
 * `hang`: the local store never takes it, sendMessage never settles, nothing is sent.
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
