import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { RedisKeys } from '@app/core';
import { startEmulator, type RunningEmulator } from '../../../../../apps/wa-emulator/src';
import { waitFor } from '../../../../../test/support/wait-for';
import type { DriverStateEvent } from '../../session-driver';
import { createWwebjsDriver } from './create-wwebjs-driver';
import type { WwebjsDriver } from './wwebjs.driver';

jest.setTimeout(120000);

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const PHONE = '15557771234';

/**
 * A restart with saved auth: the worker's real driver (LocalAuth) on the real Chromium, on the
 * WhatsApp Web emulator. The linked device lives in the browser profile, so a driver started
 * again on the same folder is ready without a QR, and the emulator still knows one device.
 */
describe('wwebjs driver on the emulator: restart with LocalAuth', () => {
  let emulator: RunningEmulator;
  let dataDir: string;
  const drivers: WwebjsDriver[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ logger: pino({ level: 'silent' }) });
    dataDir = mkdtempSync(join(tmpdir(), 'wwebjs-emulated-restart-'));
  });
  afterAll(async () => {
    for (const d of drivers) await d.stop();
    await emulator?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function start(): { driver: WwebjsDriver; states: DriverStateEvent[] } {
    const driver = createWwebjsDriver(
      { sessionId: 'restart', redis: null as never, keys: new RedisKeys('t'), logger: silent },
      {
        chromiumPath: '/usr/bin/chromium',
        chromiumExtraArgs: emulator.chromiumArgs.join(' '),
        sessionDataDir: dataDir,
        sessionStore: 'local',
        startTimeoutMs: 60000,
      },
    );
    drivers.push(driver);
    const states: DriverStateEvent[] = [];
    driver.on('state', (s) => states.push(s));
    return { driver, states };
  }

  const statuses = (states: DriverStateEvent[]) => states.map((s) => s.status);

  it('comes back ready on the same device, with no QR', async () => {
    const first = start();
    await first.driver.start();
    const qr = await waitFor('a QR', () => first.states.find((s) => s.status === 'qr')?.qr, 60000);
    const { deviceId } = await emulator.control.scan(qr, PHONE);
    await waitFor('ready', () => statuses(first.states).includes('ready'), 60000);
    await first.driver.stop();

    const second = start();
    await second.driver.start();
    await waitFor('ready again', () => statuses(second.states).includes('ready'), 60000);
    expect(statuses(second.states)).not.toContain('qr');
    expect(second.states.find((s) => s.status === 'ready')?.phone).toBe(PHONE);
    const devices = (await emulator.control.devices()).filter((d) => d.phone === PHONE);
    expect(devices.map((d) => d.deviceId)).toEqual([deviceId]);
    expect(await second.driver.probe()).toMatchObject({ state: 'CONNECTED' });
  });
});
