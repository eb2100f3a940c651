import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RemoteAuth } from 'whatsapp-web.js';
import { RedisKeys } from '@app/core';
import { sharedRedisUrl, uniquePrefix } from '../../../../../../test/support/redis-server';
import { GuardedRemoteAuth } from './guarded-remote-auth';
import { RedisAuthStore } from './redis-auth-store';
import { RemoteAuthBase, type AuthStrategyClient } from './remote-auth-internals';

/**
 * The strategy on the real Redis and the real filesystem (real archiver / unzipper); only the
 * WhatsApp side is faked: a Client reduced to what RemoteAuth touches (`options.puppeteer`,
 * `emit`, and `on` for our `change_state` listener). No browser is launched.
 */
const prefix = uniquePrefix('guarded-remote-auth');
const keys = new RedisKeys(prefix);
const SYNC_MS = 60000;
let redis: Redis;
let dirs: string[] = [];
let n = 0;

beforeAll(() => {
  redis = new Redis(sharedRedisUrl());
});

afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

afterAll(async () => {
  const found = await redis.keys(`${prefix}:*`);
  if (found.length) await redis.del(...found);
  await redis.quit();
});

type FakeClient = EventEmitter & AuthStrategyClient;

function fakeClient(): FakeClient {
  const puppeteer: Record<string, unknown> = {};
  return Object.assign(new EventEmitter(), { options: { puppeteer } });
}

/** One worker running one session: a fresh dataPath, the strategy, a fake Client. */
async function worker(sessionId: string) {
  const dataPath = await mkdtemp(join(tmpdir(), 'wa-guarded-'));
  dirs.push(dataPath);
  const store = new RedisAuthStore(redis, keys, sessionId, { dataPath });
  const auth = new GuardedRemoteAuth({
    clientId: sessionId,
    dataPath,
    store,
    backupSyncIntervalMs: SYNC_MS,
  });
  const client = fakeClient();
  auth.setup(client); // what `new Client({ authStrategy })` does (Client.js:94)
  await auth.beforeBrowserInitialized(); // restores the backup, if any (Client.js:442)
  const profile = client.options.puppeteer.userDataDir as string;
  return { auth, client, profile, dataPath };
}

/** What the page's onAppStateChangedEvent does for a rejected state (Client.js:822-853). */
async function rejectedState(
  w: { client: FakeClient; auth: { disconnect(): Promise<void>; destroy(): Promise<void> } },
  state: string,
) {
  w.client.emit('change_state', state);
  await w.auth.disconnect();
  w.client.emit('disconnected', state);
  await w.auth.destroy(); // Client.destroy() -> authStrategy.destroy() (Client.js:1283)
}

/** A browser profile with the folders RemoteAuth backs up (requiredDirs, RemoteAuth.js:59-63). */
async function writeProfile(profile: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>([
    [
      join('Default', 'IndexedDB', 'https_web.whatsapp.com_0.indexeddb.leveldb', '000003.log'),
      randomBytes(256 * 1024),
    ],
    [join('Default', 'Local Storage', 'leveldb', '000005.ldb'), randomBytes(64 * 1024)],
  ]);
  for (const [rel, bytes] of files) {
    await mkdir(join(profile, rel, '..'), { recursive: true });
    await writeFile(join(profile, rel), bytes);
  }
  return files;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function backedUpWorker() {
  const sessionId = `s${n++}`;
  const w = await worker(sessionId);
  const files = await writeProfile(w.profile);
  expect(await w.auth.backupNow()).toBe(true);
  const backup = await redis.getBuffer(keys.wwebjsAuth(sessionId));
  expect(backup).not.toBeNull();
  return { ...w, sessionId, files, backup: backup! };
}

describe('GuardedRemoteAuth (RemoteAuth that keeps the backup unless the device is gone)', () => {
  it.each(['CONFLICT', 'DEPRECATED_VERSION', 'TOS_BLOCK', 'PROXYBLOCK'])(
    'a %s disconnect keeps the Redis backup and the local profile',
    async (state) => {
      const w = await backedUpWorker();
      await rejectedState(w, state);
      expect((await redis.getBuffer(keys.wwebjsAuth(w.sessionId)))!.equals(w.backup)).toBe(true);
      expect(await exists(w.profile)).toBe(true);
    },
  );

  it('a crash or a hand-over (destroy without a disconnect) keeps the backup', async () => {
    const w = await backedUpWorker();
    await w.auth.destroy();
    expect(await redis.exists(keys.wwebjsAuth(w.sessionId))).toBe(1);
  });

  it('an UNPAIRED disconnect deletes the backup and the local profile', async () => {
    const w = await backedUpWorker();
    await rejectedState(w, 'UNPAIRED');
    expect(await redis.exists(keys.wwebjsAuth(w.sessionId))).toBe(0);
    expect(await exists(w.profile)).toBe(false);
  });

  it('a LOGOUT via Client.logout() deletes the backup and the local profile', async () => {
    const w = await backedUpWorker();
    await w.auth.logout(); // Client.logout() -> authStrategy.logout() (Client.js:1302)
    expect(await redis.exists(keys.wwebjsAuth(w.sessionId))).toBe(0);
    expect(await exists(w.profile)).toBe(false);
  });

  it('a LOGOUT from the phone (post_logout navigation) deletes the backup', async () => {
    const w = await backedUpWorker();
    // Client.js:497-500: emit 'disconnected' 'LOGOUT', logout(), then a fresh (QR) profile.
    w.client.emit('disconnected', 'LOGOUT');
    await w.auth.logout();
    await w.auth.beforeBrowserInitialized();
    await w.auth.afterBrowserInitialized();
    expect(await redis.exists(keys.wwebjsAuth(w.sessionId))).toBe(0);
    expect(await exists(join(w.profile, 'Default', 'IndexedDB'))).toBe(false);
  });

  it('after a CONFLICT another worker restores the same profile (no QR)', async () => {
    const a = await backedUpWorker();
    // Concurrent backups share RemoteAuth's tempDir and zip file: they must not corrupt it.
    await Promise.all([a.auth.backupNow(), a.auth.backupNow(), a.auth.backupNow()]);
    await rejectedState(a, 'CONFLICT');

    const b = await worker(a.sessionId); // fresh dataPath, as on another machine
    expect(b.profile).not.toBe(a.profile);
    for (const [rel, bytes] of a.files) {
      expect((await readFile(join(b.profile, rel))).equals(bytes)).toBe(true);
    }
  });

  it('a disconnect during the first-backup delay arms no timer and saves nothing', async () => {
    const sessionId = `s${n++}`;
    const w = await worker(sessionId);
    await writeProfile(w.profile);
    let endDelay!: () => void;
    const delayed = new Promise<void>((resolve) => (endDelay = resolve));
    const delay = jest.spyOn(w.auth, 'delay').mockReturnValue(delayed);

    const ready = w.auth.afterAuthReady(); // no backup yet: waits, then backs up
    while (delay.mock.calls.length === 0) await new Promise((r) => setImmediate(r));
    await rejectedState(w, 'CONFLICT');
    endDelay();
    await ready;

    expect(w.auth.backupSync).toBeUndefined();
    expect(await redis.exists(keys.wwebjsAuth(sessionId))).toBe(0);
  });

  it('(upstream, for contrast) plain RemoteAuth deletes the backup on CONFLICT', async () => {
    const sessionId = `s${n++}`;
    const dataPath = await mkdtemp(join(tmpdir(), 'wa-plain-'));
    dirs.push(dataPath);
    const store = new RedisAuthStore(redis, keys, sessionId, { dataPath });
    const auth = new RemoteAuthBase({
      clientId: sessionId,
      dataPath,
      store,
      backupSyncIntervalMs: SYNC_MS,
    });
    expect(auth).toBeInstanceOf(RemoteAuth);
    const client = fakeClient();
    auth.setup(client);
    await auth.beforeBrowserInitialized();
    await writeProfile(client.options.puppeteer.userDataDir as string);
    await auth.storeRemoteSession();
    expect(await redis.exists(keys.wwebjsAuth(sessionId))).toBe(1);

    await rejectedState({ client, auth }, 'CONFLICT');
    expect(await redis.exists(keys.wwebjsAuth(sessionId))).toBe(0);
  });
});
