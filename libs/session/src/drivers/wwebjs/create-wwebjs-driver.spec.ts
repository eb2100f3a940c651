import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisKeys } from '@app/core';
import { FakeWwebjsClient } from '../../../../../test/support/fake-wwebjs-client';
import type { WwebjsSettings } from '../../session-driver';
import { CONTAINER_CHROMIUM_ARGS } from './browser/chromium-profile';
import { createWwebjsDriver } from './create-wwebjs-driver';

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

describe('createWwebjsDriver: the Chromium flags the worker settings give the browser', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'create-wwebjs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts a driver built from `settings` and returns the `args` its browser would get. */
  async function launchArgs(settings: Partial<WwebjsSettings>): Promise<string[]> {
    let client: FakeWwebjsClient | undefined;
    const driver = createWwebjsDriver(
      { sessionId: 'sales', redis: null as never, keys: new RedisKeys('t'), logger: silent },
      {
        // Any executable will do: the fake client launches nothing.
        chromiumPath: process.execPath,
        sessionDataDir: dir,
        sessionStore: 'local',
        startTimeoutMs: 1000,
        clientFactory: (options) => (client = new FakeWwebjsClient(options)),
        ...settings,
      },
    );
    await driver.start();
    await driver.stop();
    const puppeteer = client!.options.puppeteer as { args: string[] };
    return puppeteer.args;
  }

  const root = process.getuid?.() === 0 ? ['--no-sandbox'] : [];

  it('appends CHROMIUM_EXTRA_ARGS to the container profile', async () => {
    const args = await launchArgs({
      chromiumExtraArgs:
        '--proxy-server=http://127.0.0.1:4100 --ignore-certificate-errors-spki-list=AbC+/=',
    });
    expect(args).toEqual([
      ...CONTAINER_CHROMIUM_ARGS,
      '--proxy-server=http://127.0.0.1:4100',
      '--ignore-certificate-errors-spki-list=AbC+/=',
      ...root,
    ]);
  });

  it('appends CHROMIUM_EXTRA_ARGS to CHROMIUM_ARGS when that replaces the profile', async () => {
    const args = await launchArgs({
      chromiumArgsOverride: '--foo',
      chromiumExtraArgs: '--proxy-server=http://127.0.0.1:4100',
    });
    expect(args).toEqual(['--foo', '--proxy-server=http://127.0.0.1:4100', ...root]);
  });

  it('gives the container profile alone when neither is set', async () => {
    expect(await launchArgs({})).toEqual([...CONTAINER_CHROMIUM_ARGS, ...root]);
  });
});
