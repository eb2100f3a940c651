import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis, EventLog, RedisKeys, waitForReady } from '@app/core';
import { sharedRedisUrl, uniquePrefix, deleteByPrefix } from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait-for';
import { leaseValue, SessionStore } from './session-store';
import {
  DEFAULT_RATE_LIMIT,
  DEFAULT_SIMULATOR_OPTIONS,
  INITIAL_SESSION_STATE,
  type SessionConfig,
  type SessionState,
} from './session.types';

const LEASE_MS = 10_000;
/** Short enough to wait out, long enough not to lapse between a claim and the next call. */
const SHORT_LEASE_MS = 150;

const prefix = uniquePrefix('session-store');
const keys = new RedisKeys(prefix);
let redis: Redis;
let store: SessionStore;

beforeAll(async () => {
  redis = createRedis(sharedRedisUrl(), 'worker', `${prefix}-store`);
  await waitForReady(redis, 5000);
  store = new SessionStore(redis, keys, new EventLog(redis, keys));
});

afterAll(async () => {
  await deleteByPrefix(redis, prefix);
  await redis.quit();
});

function newConfig(overrides: Partial<SessionConfig> = {}): SessionConfig {
  return {
    id: `s-${randomUUID().slice(0, 8)}`,
    driver: 'simulator',
    rateLimit: DEFAULT_RATE_LIMIT,
    webhook: { url: 'https://example.test/hook', secret: 's3cret', events: ['message.status'] },
    simulator: { ...DEFAULT_SIMULATOR_OPTIONS, linkAfterMs: 50 },
    createdAt: new Date().toISOString(),
    ...overrides,
  };
}

async function createdSession(overrides: Partial<SessionConfig> = {}): Promise<string> {
  const config = newConfig(overrides);
  expect(await store.create(config)).toBe(true);
  return config.id;
}

function readyState(phone: string): SessionState {
  return {
    ...INITIAL_SESSION_STATE,
    status: 'ready',
    phone,
    updatedAt: new Date().toISOString(),
  };
}

describe('SessionStore', () => {
  describe('registry', () => {
    it('creates a session that get returns with the initial state', async () => {
      const config = newConfig();

      expect(await store.create(config)).toBe(true);

      expect(await store.get(config.id)).toEqual({ config, state: INITIAL_SESSION_STATE });
      expect(await store.exists(config.id)).toBe(true);
      expect(await store.ids()).toContain(config.id);
    });

    it('keeps null webhook and simulator options as null', async () => {
      const config = newConfig({ webhook: null, simulator: null });
      await store.create(config);

      expect((await store.get(config.id))!.config).toEqual(config);
    });

    it('refuses an id that is taken, keeping the first configuration', async () => {
      const first = newConfig();
      await store.create(first);

      const created = await store.create({
        ...first,
        driver: 'wwebjs',
        rateLimit: { ...DEFAULT_RATE_LIMIT, perMinute: 1 },
      });

      expect(created).toBe(false);
      expect((await store.get(first.id))!.config).toEqual(first);
    });

    it('finishes a create that died between its writes', async () => {
      const config = newConfig();
      // What an interrupted create leaves: the id claimed, nothing else.
      await redis.hsetnx(keys.session(config.id), 'id', config.id);
      expect(await store.get(config.id)).toBeNull();

      expect(await store.create(config)).toBe(true);
      expect((await store.get(config.id))!.config).toEqual(config);
    });

    it('lists ids in creation order', async () => {
      const base = Date.parse('2030-01-01T00:00:00.000Z');
      const ids = [2, 0, 1].map((i) => ({
        id: `order-${i}-${randomUUID().slice(0, 6)}`,
        createdAt: new Date(base + i * 1000).toISOString(),
      }));
      for (const { id, createdAt } of ids) await store.create(newConfig({ id, createdAt }));

      const listed = (await store.ids()).filter((id) => id.startsWith('order-'));

      expect(listed).toEqual([ids[1].id, ids[2].id, ids[0].id]);
    });

    // The lease used to go with the record; it now stays until its owner has stopped (the
    // owner, or a lapsed lease, is what tells that the session's data may be purged).
    it('removes a session; its lease stays until the owner releases it', async () => {
      const id = await createdSession();
      const lease = (await store.claim(id, 'worker-a', LEASE_MS))!;

      await store.remove(id);

      expect(await store.get(id)).toBeNull();
      expect(await store.exists(id)).toBe(false);
      expect(await store.ids()).not.toContain(id);
      expect(await store.owner(id)).toEqual(lease);
      await store.release(id, lease);
      expect(await store.owner(id)).toBeNull();
    });

    it('creates a session once under concurrent creates of one id', async () => {
      const config = newConfig();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.create({ ...config, createdAt: new Date(Date.now() + i).toISOString() }),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.ids()).toContain(config.id);
    });

    it('replaces and removes the webhook of a session, and never brings back a removed one', async () => {
      const id = await createdSession();
      const webhook = { url: 'https://example.test/new', secret: 'whsec_new', events: undefined };
      expect(await store.setWebhook(id, webhook)).toBe(true);
      expect((await store.get(id))?.config.webhook).toEqual({
        url: 'https://example.test/new',
        secret: 'whsec_new',
      });
      expect(await store.setWebhook(id, null)).toBe(true);
      expect((await store.get(id))?.config.webhook).toBeNull();

      await store.remove(id);
      expect(await store.setWebhook(id, webhook)).toBe(false);
      expect(await store.setWebhook('no-such-session', webhook)).toBe(false);
      expect(await redis.exists(keys.session(id), keys.session('no-such-session'))).toBe(0);
    });

    it('returns null for an unknown session', async () => {
      expect(await store.get('no-such-session')).toBeNull();
      expect(await store.exists('no-such-session')).toBe(false);
    });
  });

  describe('leases', () => {
    it('hands out increasing fencing tokens, one lease at a time', async () => {
      const id = await createdSession();
      const tokens: number[] = [];

      for (const worker of ['worker-a', 'worker-b', 'worker-a']) {
        const lease = await store.claim(id, worker, LEASE_MS);
        expect(lease).not.toBeNull();
        expect(lease!.workerId).toBe(worker);
        expect(await store.owner(id)).toEqual(lease);
        tokens.push(lease!.token);
        await store.release(id, lease!);
      }

      expect(tokens[1]).toBeGreaterThan(tokens[0]);
      expect(tokens[2]).toBeGreaterThan(tokens[1]);
    });

    it('refuses a second claim while the lease is held, even by the holder', async () => {
      const id = await createdSession();
      const lease = await store.claim(id, 'worker-a', LEASE_MS);

      expect(await store.claim(id, 'worker-b', LEASE_MS)).toBeNull();
      expect(await store.claim(id, 'worker-a', LEASE_MS)).toBeNull();
      expect(await store.owner(id)).toEqual(lease);
    });

    it('lets only the holder renew, with the same token', async () => {
      const id = await createdSession();
      const lease = (await store.claim(id, 'worker-a', LEASE_MS))!;
      const longer = 6 * LEASE_MS;

      expect(await store.renew(id, { workerId: 'worker-b', token: lease.token }, longer)).toBe(
        false,
      );
      expect(await store.renew(id, { workerId: 'worker-a', token: lease.token + 1 }, longer)).toBe(
        false,
      );
      expect(await redis.pttl(keys.lease(id))).toBeLessThanOrEqual(LEASE_MS);

      expect(await store.renew(id, lease, longer)).toBe(true);
      expect(await redis.pttl(keys.lease(id))).toBeGreaterThan(longer - 5000);
      expect(await store.owner(id)).toEqual(lease);
    });

    it('lets only the holder release', async () => {
      const id = await createdSession();
      const lease = (await store.claim(id, 'worker-a', LEASE_MS))!;

      await store.release(id, { workerId: 'worker-b', token: lease.token });
      await store.release(id, { workerId: 'worker-a', token: lease.token - 1 });
      expect(await store.owner(id)).toEqual(lease);

      await store.release(id, lease);
      expect(await store.owner(id)).toBeNull();
    });

    it('lets another worker claim an expired lease, with a higher token', async () => {
      const id = await createdSession();
      const old = (await store.claim(id, 'worker-a', SHORT_LEASE_MS))!;

      const adopted = await waitFor(
        'the lease to expire and be claimed',
        () => store.claim(id, 'worker-b', LEASE_MS),
        5000,
      );

      expect(adopted.workerId).toBe('worker-b');
      expect(adopted.token).toBeGreaterThan(old.token);
      // The old holder can neither renew nor release what is no longer its lease.
      expect(await store.renew(id, old, LEASE_MS)).toBe(false);
      await store.release(id, old);
      expect(await store.owner(id)).toEqual(adopted);
    });

    it('reports the owners of many sessions at once', async () => {
      const held = await createdSession();
      const free = await createdSession();
      const lease = await store.claim(held, 'worker-a', LEASE_MS);

      expect(await store.owners([held, free, 'no-such-session'])).toEqual([lease, null, null]);
      expect(await store.owners([])).toEqual([]);
    });

    it('parses a worker id that contains the separator', async () => {
      const id = await createdSession();
      const lease = (await store.claim(id, 'host|7', LEASE_MS))!;

      expect(await store.owner(id)).toEqual({ workerId: 'host|7', token: lease.token });
      expect(leaseValue(lease)).toBe(`host|7|${lease.token}`);
    });
  });

  describe('writeState', () => {
    it('writes the state while the writer holds the lease', async () => {
      const id = await createdSession();
      const lease = (await store.claim(id, 'worker-a', LEASE_MS))!;
      const state = readyState('15550000001');

      expect(await store.writeState(id, lease, state)).toBe(true);

      expect((await store.get(id))!.state).toEqual(state);
    });

    it('refuses a writer without the lease', async () => {
      const id = await createdSession();

      expect(await store.writeState(id, { workerId: 'worker-a', token: 1 }, readyState('1'))).toBe(
        false,
      );
      expect((await store.get(id))!.state).toEqual(INITIAL_SESSION_STATE);
    });

    it('fences off the old owner once another worker has claimed the session', async () => {
      const id = await createdSession();
      const old = (await store.claim(id, 'worker-a', SHORT_LEASE_MS))!;
      expect(await store.writeState(id, old, readyState('15550000001'))).toBe(true);
      const adopted = await waitFor(
        'worker-b to adopt the session',
        () => store.claim(id, 'worker-b', LEASE_MS),
        5000,
      );
      const current = readyState('15550000002');
      expect(await store.writeState(id, adopted, current)).toBe(true);

      // The old owner wakes up (a GC pause, a frozen VM) and reports what it last saw.
      const stale = await store.writeState(id, old, {
        ...readyState('15550000001'),
        status: 'failed',
      });

      expect(stale).toBe(false);
      expect((await store.get(id))!.state).toEqual(current);
    });

    it('refuses the same worker holding an older token', async () => {
      const id = await createdSession();
      const first = (await store.claim(id, 'worker-a', LEASE_MS))!;
      await store.release(id, first);
      const second = (await store.claim(id, 'worker-a', LEASE_MS))!;

      expect(await store.writeState(id, first, readyState('1'))).toBe(false);
      expect(await store.writeState(id, second, readyState('2'))).toBe(true);
      expect((await store.get(id))!.state.phone).toBe('2');
    });

    it('does not bring back a removed session', async () => {
      const id = await createdSession();
      const lease = (await store.claim(id, 'worker-a', LEASE_MS))!;
      await store.remove(id);
      // A lease left from before the removal, as a slow worker might still hold it.
      await redis.set(keys.lease(id), leaseValue(lease), 'PX', LEASE_MS);

      expect(await store.writeState(id, lease, readyState('1'))).toBe(false);
      expect(await redis.exists(keys.session(id))).toBe(0);
    });
  });
});
