import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisKeys } from '@app/core';
import { startEmulator, type RunningEmulator } from '../../../../../apps/wa-emulator/src';
import { waitFor } from '../../../../../test/support/wait-for';
import type { DriverStateEvent, OutgoingMessage, WwebjsSettings } from '../../session-driver';
import { SessionDriverError } from '../../session.errors';
import { pidsUsingProfile } from './browser/process-tree';
import { createWwebjsDriver } from './create-wwebjs-driver';
import type { WwebjsDriver } from './wwebjs.driver';

/**
 * Our wwebjs driver as the worker builds it (createWwebjsDriver: LocalAuth, the container flag
 * profile, CHROMIUM_EXTRA_ARGS pointing Chromium at the WhatsApp Web emulator), driving the
 * unmodified whatsapp-web.js in the real Chromium, through the paths issue 14 lists that the
 * shared contract suite does not: a restart on saved auth without a QR, the pairing code, a
 * canonical number, a send that whatsapp-web.js answers with `undefined`, a page that reloads by
 * itself, CONFLICT, UNPAIRED, an unlink from the phone, a frozen page, and logout.
 */
const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

describe('the wwebjs driver on the WhatsApp Web emulator', () => {
  let emulator: RunningEmulator;
  let dir: string;
  const running: WwebjsDriver[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ settings: { qrRotateMs: 60_000 } });
    dir = mkdtempSync(join(tmpdir(), 'wa-drv-emu-'));
  });

  afterAll(async () => {
    await Promise.all(running.map((d) => d.stop().catch(() => undefined)));
    await emulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A driver for session `id`, built as the worker builds it; records its state events. */
  function driverFor(id: string) {
    const settings: WwebjsSettings = {
      chromiumPath: '/usr/bin/chromium',
      chromiumExtraArgs: emulator.chromiumArgs.join(' '),
      sessionDataDir: dir,
      sessionStore: 'local',
      startTimeoutMs: 60_000,
    };
    const driver = createWwebjsDriver(
      { sessionId: id, redis: null as never, keys: new RedisKeys('t'), logger: silent },
      settings,
    );
    running.push(driver);
    const states: DriverStateEvent[] = [];
    const lost: SessionDriverError[] = [];
    driver.on('state', (s) => states.push(s));
    driver.on('lost', (e) => lost.push(e));
    return { driver, states, lost, profile: join(dir, `session-${id}`) };
  }

  /** Starts it and has the emulated phone scan its first QR; resolves once ready. */
  async function linked(id: string, phone: string) {
    const d = driverFor(id);
    /** Scans that failed: a failure shows as itself, not as a timeout waiting for ready. */
    const scanErrors: unknown[] = [];
    d.driver.on('state', (s) => {
      if (s.status === 'qr' && s.qr)
        emulator.control.scan(s.qr, phone).catch((err: unknown) => scanErrors.push(err));
    });
    await d.driver.start();
    await waitFor(
      `${id} ready`,
      () => {
        if (scanErrors.length) throw scanErrors[0];
        return d.states.some((s) => s.status === 'ready');
      },
      30_000,
      50,
    );
    // Its Chromium runs on the profile stopped() then waits to see gone.
    expect(pidsUsingProfile(d.profile).length).toBeGreaterThan(0);
    return d;
  }

  async function stopped(d: { driver: WwebjsDriver; profile: string }) {
    await d.driver.stop();
    await waitFor('its Chromium gone', () => pidsUsingProfile(d.profile).length === 0, 10_000, 50);
  }

  function text(messageId: string, chatId: string, body: string): OutgoingMessage {
    return {
      messageId,
      chatId,
      content: { text: body },
      attemptStartedAt: Date.now(),
    } as OutgoingMessage;
  }

  it('links by QR, then restarts on the saved LocalAuth profile without a new QR', async () => {
    const first = await linked('restart', '15550100001');
    expect(first.states.find((s) => s.status === 'ready')?.phone).toBe('15550100001');
    expect(first.states.some((s) => s.status === 'qr')).toBe(true);
    await stopped(first);

    const again = driverFor('restart');
    await again.driver.start();
    await waitFor('ready again', () => again.states.some((s) => s.status === 'ready'), 30_000, 50);
    expect(again.states.some((s) => s.status === 'qr')).toBe(false);
    expect(again.states.find((s) => s.status === 'ready')?.phone).toBe('15550100001');
    const sent = await again.driver.send(text('m-restart', '15550109999@c.us', 'after a restart'));
    expect(sent.waMessageId).toMatch(/^true_15550109999@c\.us_/);
    await stopped(again);
  }, 90_000);

  it('links with a pairing code the phone confirms', async () => {
    const d = driverFor('pairing');
    let code: Promise<string> | null = null;
    d.driver.on('state', (s) => {
      if (s.status === 'qr' && !code) code = d.driver.requestPairingCode('+1 555 010 0002');
    });
    await d.driver.start();
    await waitFor('the first QR', () => code !== null, 30_000, 50);
    const shown = await code!;
    expect(shown).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    await emulator.control.pairing(shown.replace('-', ''));
    await waitFor('ready by code', () => d.states.some((s) => s.status === 'ready'), 30_000, 50);
    expect(d.states.find((s) => s.status === 'ready')?.phone).toBe('15550100002');
    await stopped(d);
  }, 90_000);

  it('checks numbers with WhatsApp, a canonical id that differs included', async () => {
    const d = await linked('numbers', '15550100003');
    await emulator.control.numbers({
      '5511912345678': { canonical: '551112345678' },
      '15550000000': { exists: false },
    });
    await expect(d.driver.checkNumber('5511912345678@c.us')).resolves.toEqual({
      chatId: '551112345678@c.us',
      onWhatsApp: true,
    });
    await expect(d.driver.checkNumber('15550000000@c.us')).resolves.toEqual({
      chatId: '15550000000@c.us',
      onWhatsApp: false,
    });
    await stopped(d);
  }, 90_000);

  it('finds a message whatsapp-web.js answered with undefined among the sent ones, once', async () => {
    const phone = '15550100004';
    const d = await linked('undefined', phone);
    await emulator.control.sendFault(phone, 'undefined', 1);
    const sent = await d.driver.send(text('m-undef', '15550108888@c.us', 'answered undefined'));
    const log = (await emulator.control.sent({ phone })).filter(
      (e) => e.body === 'answered undefined',
    );
    expect(log).toHaveLength(1);
    expect(sent.waMessageId).toBe(log[0].waMessageId);
    await stopped(d);
  }, 90_000);

  it('stays usable when the page navigates by itself (whatsapp-web.js re-injects)', async () => {
    const d = await linked('reload', '15550100005');
    const [device] = (await emulator.control.devices()).filter((v) => v.phone === '15550100005');
    const readies = () => d.states.filter((s) => s.status === 'ready').length;
    // The page's links to the emulator: a reloaded page opens a new one.
    const attach = emulator.state.attachLink.bind(emulator.state);
    let links = 0;
    jest.spyOn(emulator.state, 'attachLink').mockImplementation((id, link) => {
      if (id === device.deviceId) links++;
      attach(id, link);
    });
    await emulator.control.reload(device.deviceId);
    await waitFor('the page to load again', () => links > 0, 15_000, 50);
    // The driver reports ready once; what shows the re-inject is a send that works afterwards.
    await waitFor(
      'a send after the reload',
      async () => {
        try {
          return (await d.driver.send(text('m-reload', '15550107777@c.us', 'after reload')))
            .waMessageId;
        } catch {
          return null;
        }
      },
      30_000,
      200,
    );
    jest.restoreAllMocks();
    expect(d.lost).toEqual([]);
    expect(readies()).toBe(1);
    await stopped(d);
  }, 90_000);

  it('reports CONFLICT as a lost session and UNPAIRED as logged out', async () => {
    const c = await linked('conflict', '15550100006');
    const [dc] = (await emulator.control.devices()).filter((v) => v.phone === '15550100006');
    await emulator.control.setState(dc.deviceId, 'CONFLICT');
    await waitFor('lost', () => c.lost.length > 0, 15_000, 50);
    expect(c.lost[0].code).toBe('CONFLICT');
    await stopped(c);

    const u = await linked('unpaired', '15550100007');
    const [du] = (await emulator.control.devices()).filter((v) => v.phone === '15550100007');
    await emulator.control.setState(du.deviceId, 'UNPAIRED');
    const out = await waitFor(
      'logged out',
      () => u.states.find((s) => s.status === 'logged_out'),
      15_000,
      50,
    );
    expect(out.error?.code).toBe('UNPAIRED');
    await stopped(u);
  }, 120_000);

  it('shows a new QR after the phone unlinks the device (LOGOUT), and links again in the same browser', async () => {
    const phone = '15550100008';
    const d = await linked('unlink', phone);
    const qrsBefore = d.states.filter((s) => s.status === 'qr').length;
    await emulator.control.unlink(phone);
    const out = await waitFor(
      'logged out',
      () => d.states.find((s) => s.status === 'logged_out'),
      15_000,
      50,
    );
    expect(out.error?.code).toBe('LOGGED_OUT');
    await waitFor(
      'a new QR in the same browser',
      () => d.states.filter((s) => s.status === 'qr').length > qrsBefore,
      20_000,
      50,
    );
    // linked()'s phone scans every QR the driver reports, this one too: ready again in the same
    // browser, without a relaunch and without a loss. (Stopping while whatsapp-web.js still
    // re-injects after the logout would make it reject inside its own listener, which the worker
    // contains, process-guards.ts, but jest reports.)
    await waitFor(
      'ready again',
      () => d.states.filter((s) => s.status === 'ready').length === 2,
      20_000,
      50,
    );
    expect(d.lost).toEqual([]);
    await stopped(d);
  }, 90_000);

  it('gets no answer to a probe from a frozen page (the supervisor bounds the probe, then recovers)', async () => {
    const d = await linked('freeze', '15550100009');
    await expect(d.driver.probe()).resolves.toMatchObject({ state: 'CONNECTED' });
    const [device] = (await emulator.control.devices()).filter((v) => v.phone === '15550100009');
    await emulator.control.freeze(device.deviceId);
    /** A probe's fate within `ms`: a frozen renderer never answers page.evaluate. */
    const probeWithin = (ms: number) =>
      Promise.race([
        d.driver.probe().then(
          () => 'answered',
          () => 'failed',
        ),
        new Promise((r) => setTimeout(() => r('no answer'), ms)),
      ]);
    // The freeze reaches the page through its link: probes answer until it has landed.
    await waitFor(
      'a probe left unanswered',
      async () => (await probeWithin(1000)) === 'no answer',
      15_000,
      0,
    );
    // From then on the page never answers again.
    const outcome = await probeWithin(3000);
    expect(outcome).toBe('no answer');
    await stopped(d);
  }, 90_000);

  it('logs out: WhatsApp forgets the device', async () => {
    const phone = '15550100010';
    const d = await linked('logout', phone);
    await d.driver.logout();
    await waitFor(
      'the device unlinked',
      async () => !(await emulator.control.devices()).some((v) => v.phone === phone),
      15_000,
      100,
    );
    await stopped(d);
  }, 90_000);
});
