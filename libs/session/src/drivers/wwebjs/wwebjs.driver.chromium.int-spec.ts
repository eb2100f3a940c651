import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisKeys } from '@app/core';
import { ChromiumBackedClient } from '../../../../../test/support/chromium-backed-client';
import type { SessionDriverError } from '../../session.errors';
import { chromiumArgs } from './browser/chromium-profile';
import { descendantPids, isAlive } from './browser/process-tree';
import { WwebjsDriver } from './wwebjs.driver';
import { waitFor } from '../../../../../test/support/wait-for';

jest.setTimeout(60000);

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

const until = (what: string, check: () => boolean, ms = 10000) => waitFor(what, check, ms, 10);

interface Listened {
  listenerCount(event: string): number;
}

/**
 * The driver on the real Chromium, launched with our flag profile over a pipe; only WhatsApp's
 * side is scripted. Crashes must be reported from events within a second, and nothing of the
 * browser may outlive the driver.
 */
describe('WwebjsDriver on the real Chromium', () => {
  let dir: string;
  let client: ChromiumBackedClient;
  let driver: WwebjsDriver;
  let lost: SessionDriverError[];
  let readyCount: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wwebjs-chromium-'));
    lost = [];
    readyCount = 0;
    driver = new WwebjsDriver(
      { sessionId: 'real', redis: null as never, keys: new RedisKeys('t'), logger: silent },
      {
        chromiumPath: '/usr/bin/chromium',
        chromiumArgs: chromiumArgs({ runningAsRoot: process.getuid?.() === 0 }),
        profileDir: join(dir, 'profile'),
        webVersionCacheDir: join(dir, '.wwebjs_cache'),
        authStrategy: () => ({}),
        media: { maxBytes: 1 << 20, timeoutMs: 1000, allowPrivate: true },
        startTimeoutMs: 30000,
        clientFactory: (o) => (client = new ChromiumBackedClient(o)),
      },
    );
    driver.on('lost', (e) => lost.push(e));
    driver.on('state', (s) => {
      if (s.status === 'ready') readyCount++;
    });
    await driver.start();
    await until('ready', () => readyCount === 1);
    // The driver watches the browser and page once the client exposes them (no sleep: the
    // watch's own listeners are the condition).
    await until(
      'browser watched',
      () =>
        (client.pupBrowser as unknown as Listened | null)?.listenerCount('disconnected') === 1 &&
        (client.pupPage as unknown as Listened | null)?.listenerCount('error') === 1,
    );
  });

  afterEach(async () => {
    await driver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const browserPid = () =>
    (client.pupBrowser as unknown as { process(): { pid: number } }).process().pid;

  it('reports a SIGKILLed browser as BROWSER_CRASHED within one second', async () => {
    const at = Date.now();
    process.kill(browserPid(), 'SIGKILL');
    await until('lost', () => lost.length > 0, 1000);
    expect(Date.now() - at).toBeLessThan(1000);
    expect(lost[0]).toMatchObject({ code: 'BROWSER_CRASHED', failure: 'session' });
  });

  it('reports a renderer crash (chrome://crash) within one second', async () => {
    const page = client.pupPage as unknown as { goto(url: string): Promise<unknown> };
    const at = Date.now();
    void page.goto('chrome://crash').catch(() => undefined);
    await until('lost', () => lost.length > 0, 1000);
    expect(Date.now() - at).toBeLessThan(1000);
    expect(lost[0].failure).toBe('session');
  });

  it('probes the real browser and measures its memory', async () => {
    const probe = await driver.probe();
    expect(probe.state).toBe('CONNECTED');
    expect(probe.memoryMb).toBeGreaterThan(50);
  });

  it('leaves no Chromium process behind after stop', async () => {
    const pid = browserPid();
    const tree = [pid, ...descendantPids(pid)];
    expect(tree.length).toBeGreaterThan(1);
    await driver.stop();
    await until('every browser process gone', () => tree.every((p) => !isAlive(p)), 5000);
  });
});
