import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Client, LocalAuth, NoAuth } from 'whatsapp-web.js';
import { pidsUsingProfile } from '../../../../libs/session/src/drivers/wwebjs/browser/process-tree';
import type { EmulatorSettings } from '../accounts';
import { startEmulator, type RunningEmulator } from '../index';

/** What the emulator int-specs share: an emulator, temp folders, Clients on it, waits. */

export const CHROMIUM = '/usr/bin/chromium';

/** Fast acks (delivered 100 ms, read 200 ms) unless told otherwise; a silent logger. */
export function startTestEmulator(
  settings: Partial<EmulatorSettings> = {},
): Promise<RunningEmulator> {
  return startEmulator({
    logger: pino({ level: 'silent' }),
    settings: { deliveredAfterMs: 100, readAfterMs: 200, ...settings },
  });
}

/** Temporary folders, all removed by `removeAll()` (afterAll). */
export class TempRoots {
  private readonly roots: string[] = [];

  constructor(private readonly prefix: string) {}

  make(): string {
    const root = mkdtempSync(join(tmpdir(), this.prefix));
    this.roots.push(root);
    return root;
  }

  removeAll(): void {
    for (const root of this.roots) rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Polls `probe` until it gives a value other than undefined/false; rejects after `timeoutMs`
 * naming `what`, so a wait that can never end fails the test fast instead of at jest's timeout.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what = 'a condition',
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The next `event` of `client` (its arguments). */
export function next<T extends unknown[] = unknown[]>(client: Client, event: string): Promise<T> {
  return new Promise((resolve) => client.once(event, (...args: unknown[]) => resolve(args as T)));
}

/** Collects every `event` of `client` from now on. */
export function collect<T extends unknown[] = unknown[]>(client: Client, event: string): T[] {
  const seen: T[] = [];
  client.on(event, (...args: unknown[]) => seen.push(args as T));
  return seen;
}

/**
 * An unmodified whatsapp-web.js Client pointed at the emulator by flags only, on its own
 * profile (`local`: LocalAuth's data path; `none`: NoAuth on this user data dir); `profileDir`
 * is what its Chromium runs with.
 */
export function newClient(
  emulator: RunningEmulator,
  auth: { local: string } | { none: string },
): { client: Client; profileDir: string } {
  const puppeteer = {
    executablePath: CHROMIUM,
    headless: true,
    args: [...emulator.chromiumArgs, '--no-sandbox'],
  };
  if ('local' in auth) {
    const client = new Client({
      authStrategy: new LocalAuth({ dataPath: auth.local }),
      puppeteer,
      webVersionCache: { type: 'none' },
    });
    return { client, profileDir: join(auth.local, 'session') };
  }
  const client = new Client({
    authStrategy: new NoAuth(),
    puppeteer: { ...puppeteer, userDataDir: auth.none },
    webVersionCache: { type: 'none' },
  });
  return { client, profileDir: auth.none };
}

/** Destroys the Client and checks that no process of its browser is left. */
export async function destroyAndAssertGone(client: Client, profileDir: string): Promise<void> {
  await client.destroy().catch(() => undefined);
  await waitFor(
    () => pidsUsingProfile(profileDir).length === 0 || undefined,
    `no Chromium left on ${profileDir}`,
  );
}
