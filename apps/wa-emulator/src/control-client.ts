import type {
  DeviceView,
  EmulatorSettings,
  IncomingParams,
  NumberRule,
  SentEntry,
} from './accounts';
import type { SendFaultMode } from './send-faults';

/** An error answer of the control API. */
export class EmulatorControlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorControlError';
  }
}

/**
 * Typed client of the control API, over HTTP: works against an in-process emulator
 * (startEmulator().control) and against a separate `npm run emulator` process alike.
 */
export class EmulatorControlClient {
  /** @param baseUrl e.g. http://127.0.0.1:41234 */
  constructor(readonly baseUrl: string) {}

  devices(): Promise<DeviceView[]> {
    return this.call('GET', '/control/devices');
  }

  scan(
    qr: string,
    phone: string,
    options: { pushname?: string; takeover?: boolean } = {},
  ): Promise<{ deviceId: string }> {
    return this.call('POST', '/control/scan', { qr, phone, ...options });
  }

  pairing(code: string): Promise<{ deviceId: string; phone: string }> {
    return this.call('POST', '/control/pairing', { code });
  }

  link(
    deviceId: string,
    phone: string,
    options: { pushname?: string; takeover?: boolean } = {},
  ): Promise<{ deviceId: string }> {
    return this.call('POST', `/control/devices/${encodeURIComponent(deviceId)}/link`, {
      phone,
      ...options,
    });
  }

  setState(deviceId: string, state: string): Promise<{ deviceId: string }> {
    return this.call('POST', `/control/devices/${encodeURIComponent(deviceId)}/state`, { state });
  }

  freeze(deviceId: string): Promise<{ deviceId: string }> {
    return this.call('POST', `/control/devices/${encodeURIComponent(deviceId)}/freeze`, {});
  }

  reload(deviceId: string): Promise<{ deviceId: string }> {
    return this.call('POST', `/control/devices/${encodeURIComponent(deviceId)}/reload`, {});
  }

  unlink(phone: string): Promise<{ deviceId: string }> {
    return this.call('POST', `/control/accounts/${encodeURIComponent(phone)}/unlink`, {});
  }

  incoming(phone: string, message: IncomingParams): Promise<{ waMessageId: string }> {
    return this.call('POST', `/control/accounts/${encodeURIComponent(phone)}/incoming`, message);
  }

  sendFault(phone: string, mode: SendFaultMode, count?: number): Promise<unknown> {
    return this.call('PUT', `/control/accounts/${encodeURIComponent(phone)}/send-fault`, {
      mode,
      ...(count !== undefined ? { count } : {}),
    });
  }

  ack(phone: string, waMessageId: string, ack: number): Promise<unknown> {
    return this.call('POST', `/control/accounts/${encodeURIComponent(phone)}/ack`, {
      waMessageId,
      ack,
    });
  }

  numbers(rules: Record<string, NumberRule>): Promise<unknown> {
    return this.call('PUT', '/control/numbers', rules);
  }

  settings(settings: Partial<EmulatorSettings>): Promise<EmulatorSettings> {
    return this.call('PUT', '/control/settings', settings);
  }

  sent(filter: { phone?: string; after?: number } = {}): Promise<SentEntry[]> {
    const query = new URLSearchParams();
    if (filter.phone) query.set('phone', filter.phone);
    if (filter.after !== undefined) query.set('after', String(filter.after));
    const qs = query.toString();
    return this.call('GET', `/control/sent${qs ? `?${qs}` : ''}`);
  }

  reset(): Promise<unknown> {
    return this.call('POST', '/control/reset', {});
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const reply = (await res.json()) as { error?: { code: string; message: string } };
    if (!res.ok || reply?.error)
      throw new EmulatorControlError(
        res.status,
        reply?.error?.code ?? 'http_error',
        reply?.error?.message ?? res.statusText,
      );
    return reply as T;
  }
}
