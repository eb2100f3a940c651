import pino, { type Logger } from 'pino';
import { EmulatorState, type EmulatorSettings } from './accounts';
import { createCertificate } from './certificate';
import { EmulatorControlClient } from './control-client';
import { EmulatorServer } from './emulator-server';
import { assertHostAllowed } from './host-policy';

export * from './accounts';
export { EmulatorControlClient, EmulatorControlError } from './control-client';
export type { SendFaultMode } from './send-faults';

export interface StartEmulatorOptions {
  /** 0 (default) = a free port. */
  port?: number;
  host?: string;
  settings?: Partial<EmulatorSettings>;
  logger?: Logger;
  /**
   * Listen on a non-loopback host. Off by default: the control API has no authentication
   * (`npm run emulator`: EMULATOR_ALLOW_REMOTE=1).
   */
  allowRemote?: boolean;
}

export interface RunningEmulator {
  port: number;
  /** http://host:port: the proxy, the control API and /healthz. */
  url: string;
  /** The Chromium flags that point a browser at the emulator (no spaces inside a flag). */
  chromiumArgs: string[];
  spki: string;
  control: EmulatorControlClient;
  /** The server state, for in-process tests. */
  state: EmulatorState;
  close(): Promise<void>;
}

/** Starts the WhatsApp Web emulator (see README "WhatsApp Web emulator"). */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  assertHostAllowed(host, options.allowRemote === true);
  const log =
    options.logger ?? pino({ name: 'wa-emulator', level: process.env.LOG_LEVEL ?? 'info' });
  const certificate = createCertificate();
  const state = new EmulatorState(options.settings);
  const server = new EmulatorServer(state, certificate, log);
  const port = await server.listen(options.port ?? 0, host);
  const url = `http://${host}:${port}`;
  return {
    port,
    url,
    spki: certificate.spki,
    chromiumArgs: [
      `--proxy-server=${url}`,
      `--ignore-certificate-errors-spki-list=${certificate.spki}`,
    ],
    control: new EmulatorControlClient(url),
    state,
    close: async () => {
      state.close();
      await server.close();
    },
  };
}
