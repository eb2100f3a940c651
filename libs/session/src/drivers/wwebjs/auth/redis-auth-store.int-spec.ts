import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@app/core';
import { sharedRedisUrl, uniquePrefix } from '../../../../../../test/support/redis-server';
import { RedisAuthStore } from './redis-auth-store';

const SESSION = 'sess-1';
/** What RemoteAuth calls the profile of clientId SESSION (RemoteAuth.js:69-71). */
const NAME = `RemoteAuth-${SESSION}`;

const prefix = uniquePrefix('redis-auth-store');
const keys = new RedisKeys(prefix);
let redis: Redis;
let dataPath: string;
let store: RedisAuthStore;

beforeAll(async () => {
  redis = new Redis(sharedRedisUrl());
});

beforeEach(async () => {
  await redis.del(keys.wwebjsAuth(SESSION), keys.wwebjsAuthPending(SESSION));
  dataPath = await mkdtemp(join(tmpdir(), 'wa-auth-store-'));
  store = new RedisAuthStore(redis, keys, SESSION, { dataPath });
});

afterEach(async () => {
  await rm(dataPath, { recursive: true, force: true });
});

afterAll(async () => {
  const found = await redis.keys(`${prefix}:*`);
  if (found.length) await redis.del(...found);
  await redis.quit();
});

/** Writes the zip where RemoteAuth 1.34.7 does (RemoteAuth.js:208) and returns its bytes. */
async function writeZip(bytes: Buffer = randomBytes(1024 * 1024)): Promise<Buffer> {
  await writeFile(join(dataPath, `${NAME}.zip`), bytes);
  return bytes;
}

async function stored(): Promise<Buffer | null> {
  return redis.getBuffer(keys.wwebjsAuth(SESSION));
}

describe('RedisAuthStore (the RemoteAuth store contract on the real Redis)', () => {
  it('save then sessionExists is true; delete removes it', async () => {
    expect(await store.sessionExists({ session: NAME })).toBe(false);
    await writeZip();
    await store.save({ session: NAME });
    expect(await store.sessionExists({ session: NAME })).toBe(true);

    await store.delete({ session: NAME });
    expect(await store.sessionExists({ session: NAME })).toBe(false);
    expect(await redis.exists(keys.wwebjsAuth(SESSION), keys.wwebjsAuthPending(SESSION))).toBe(0);
  });

  it('with a lease fence, writes only while the lease is still ours (a frozen worker cannot overwrite)', async () => {
    const leaseKey = keys.lease(SESSION);
    const fenced = new RedisAuthStore(redis, keys, SESSION, {
      dataPath,
      fence: { key: leaseKey, value: 'w-1|7' },
    });
    await redis.set(leaseKey, 'w-1|7');
    const mine = await writeZip();
    await fenced.save({ session: NAME });
    expect(await stored()).toEqual(mine);
    // Another worker adopted the session (new token): the old owner's backup is refused.
    await redis.set(leaseKey, 'w-2|8');
    await writeZip();
    await expect(fenced.save({ session: NAME })).rejects.toThrow(/no longer ours/);
    expect(await stored()).toEqual(mine);
    await redis.del(leaseKey);
  });

  it('extract writes back the identical bytes (binary), creating the folder', async () => {
    const bytes = await writeZip();
    await store.save({ session: NAME });
    // A worker that never ran this session has no dataPath folder yet.
    const target = join(dataPath, 'other-worker', 'nested', `${NAME}.zip`);
    await store.extract({ session: NAME, path: target });
    expect((await readFile(target)).equals(bytes)).toBe(true);
  });

  it('an absolute-path argument (1.34.6) and a bare name (1.34.7) store under the same key', async () => {
    // 1.34.6: save({ session: path.join(dataPath, sessionName) }), zip at `${session}.zip`; found
    // even by a store that was not told the dataPath.
    const first = await writeZip();
    await new RedisAuthStore(redis, keys, SESSION).save({ session: join(dataPath, NAME) });
    expect((await stored())!.equals(first)).toBe(true);

    // 1.34.7: save({ session: sessionName }), zip at path.join(dataPath, `${sessionName}.zip`).
    const second = await writeZip();
    await store.save({ session: NAME });
    expect((await stored())!.equals(second)).toBe(true);
    expect(await redis.keys(`${prefix}:*`)).toEqual([keys.wwebjsAuth(SESSION)]);
  });

  it('takes the zip just written when a stale one lies in another layout (cwd)', async () => {
    const stale = await writeZip(randomBytes(4096));
    const old = new Date(Date.now() - 60000);
    await utimes(join(dataPath, `${NAME}.zip`), old, old);
    const cwdDir = await mkdtemp(join(tmpdir(), 'wa-auth-cwd-'));
    const cwd = process.cwd();
    process.chdir(cwdDir);
    try {
      // Versions that zip into the process cwd (`${sessionName}.zip`).
      const fresh = randomBytes(2048);
      await writeFile(join(cwdDir, `${NAME}.zip`), fresh);
      await store.save({ session: NAME });
      expect((await stored())!.equals(fresh)).toBe(true);
      expect((await stored())!.equals(stale)).toBe(false);
    } finally {
      process.chdir(cwd);
      await rm(cwdDir, { recursive: true, force: true });
    }
  });

  it('a failed save leaves the previous backup intact', async () => {
    const previous = await writeZip();
    await store.save({ session: NAME });

    await rm(join(dataPath, `${NAME}.zip`));
    await expect(store.save({ session: NAME })).rejects.toThrow(/zip not found/);
    await writeFile(join(dataPath, `${NAME}.zip`), Buffer.alloc(0));
    await expect(store.save({ session: NAME })).rejects.toThrow(/empty/);

    expect((await stored())!.equals(previous)).toBe(true);
  });

  it('a connection cut in the middle of a save leaves the previous backup whole', async () => {
    const previous = await writeZip();
    await store.save({ session: NAME });

    // A dedicated connection that does not reconnect or retry, so the cut is final.
    const doomed = new Redis(sharedRedisUrl(), {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    doomed.on('error', () => undefined);
    await doomed.connect();
    const socket = doomed.stream;
    // 32 MB cannot pass the loopback socket buffers in one go: cut as soon as part of it is
    // still queued in Node, i.e. Redis has received only part of the command.
    await writeZip(randomBytes(32 * 1024 * 1024));
    const saving = new RedisAuthStore(doomed, keys, SESSION, { dataPath }).save({ session: NAME });
    let cut = false;
    let settled = false;
    saving.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled && !cut) {
      if (socket.writableLength > 0) {
        cut = true;
        socket.destroy();
      } else await new Promise((r) => setImmediate(r));
    }
    expect(cut).toBe(true);
    await expect(saving).rejects.toThrow();
    doomed.disconnect();

    expect((await stored())!.equals(previous)).toBe(true);
    expect(await redis.exists(keys.wwebjsAuthPending(SESSION))).toBe(0);
  });

  it('a reader never sees a partial backup while saves replace it', async () => {
    const a = randomBytes(4 * 1024 * 1024);
    const b = randomBytes(4 * 1024 * 1024);
    await writeZip(a);
    await store.save({ session: NAME });

    const reader = new Redis(sharedRedisUrl());
    let writing = true;
    const seen: Buffer[] = [];
    const reads = (async () => {
      while (writing) {
        const v = await reader.getBuffer(keys.wwebjsAuth(SESSION));
        if (v) seen.push(v);
      }
    })();
    for (let i = 0; i < 8; i++) {
      await writeZip(i % 2 ? a : b);
      await store.save({ session: NAME });
    }
    writing = false;
    await reads;
    await reader.quit();

    expect(seen.length).toBeGreaterThan(0);
    for (const v of seen) expect(v.equals(a) || v.equals(b)).toBe(true);
  });

  it('writes the pending key and renames it over the final key in one transaction: a cut at any byte leaves one whole backup and no pending key', async () => {
    // A connection cut after any byte of the save: the old backup or the new one, whole, and
    // never a pending key left behind. Two separate commands (a plain pipeline) fail this: cut
    // after the SET and before the RENAME, the pending value stays (and the backup is stale).
    const previous = await writeZip(Buffer.from('PK\x05\x06 the previous backup'));
    await store.save({ session: NAME });
    const next = await writeZip(Buffer.from('PK\x05\x06 the next backup, a little longer'));

    const total = await saveThroughCut(Number.POSITIVE_INFINITY);
    expect(total.forwarded).toBeGreaterThan(next.length);
    expect((await stored())!.equals(next)).toBe(true);

    const outcomes = new Set<string>();
    for (let budget = 0; budget < total.forwarded; budget++) {
      await writeZip(previous);
      await store.save({ session: NAME });
      await writeZip(next);
      await saveThroughCut(budget);
      const now = await stored();
      const which = now?.equals(previous) ? 'previous' : now?.equals(next) ? 'next' : 'broken';
      expect({
        budget,
        which,
        pending: await redis.exists(keys.wwebjsAuthPending(SESSION)),
      }).toEqual({ budget, which: which === 'broken' ? 'previous or next' : which, pending: 0 });
      outcomes.add(which);
    }
    // Cuts landed before the commit point (nothing applied) in every round but the last bytes.
    expect(outcomes.has('previous')).toBe(true);
  });
});

/**
 * One save over a connection that a proxy cuts after `budget` bytes of the save's commands (what
 * the client sends on connecting, e.g. CLIENT SETINFO, passes before the budget is counted).
 * Resolves with the bytes of the save that were forwarded, once the save has settled and both
 * sides of the proxy are closed.
 */
async function saveThroughCut(budget: number): Promise<{ forwarded: number }> {
  const target = new URL(sharedRedisUrl());
  let forwarded = 0;
  /** No cut until the connection is ready: then the save's first byte is budget 0. */
  let limit = Number.POSITIVE_INFINITY;
  const upstreamClosed: Promise<void>[] = [];
  const proxy = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    upstreamClosed.push(new Promise((r) => upstream.once('close', () => r())));
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      const room = limit - forwarded;
      if (chunk.length <= room) {
        forwarded += chunk.length;
        upstream.write(chunk);
        return;
      }
      if (room > 0) {
        forwarded += room;
        upstream.write(chunk.subarray(0, room));
      }
      // The bytes within budget reach Redis, then the connection ends: as a killed worker's.
      // Redis's answers are drained (not piped to the dead client, which would pause this
      // side) so its close, once Redis has read everything, is seen.
      upstream.unpipe(client);
      upstream.resume();
      upstream.end();
      client.destroy();
    });
    client.on('close', () => upstream.end());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  const port = (proxy.address() as AddressInfo).port;
  const conn = new Redis({
    port,
    host: '127.0.0.1',
    password: target.password || undefined,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  conn.on('error', () => undefined);
  let base = 0;
  try {
    await conn.connect();
    await conn.ping();
    base = forwarded;
    limit = base + budget;
    await new RedisAuthStore(conn, keys, SESSION, { dataPath })
      .save({ session: NAME })
      .catch(() => undefined);
  } finally {
    conn.disconnect();
    await Promise.all(upstreamClosed);
    await new Promise<void>((r) => proxy.close(() => r()));
  }
  // Redis has read everything the cut connection sent once its side is closed; a round trip on
  // another connection is behind whatever that connection's commands did.
  await redis.ping();
  return { forwarded: forwarded - base };
}
