import { Redis } from 'ioredis';
import { sharedRedisUrl, uniquePrefix } from '../../../../test/support/redis-server';
import { batchFor, PrefixedThrottlerStorage } from './throttling';

describe('PrefixedThrottlerStorage (real Redis)', () => {
  const TTL = 60_000;
  let redis: Redis;
  let prefix: string;
  let clock: number;
  const storage = () => new PrefixedThrottlerStorage(redis, prefix, () => clock);
  const hitsInRedis = async (key: string) =>
    Number((await redis.get(`${prefix}{${key}}:default:hits`)) ?? 0);

  beforeAll(() => {
    redis = new Redis(sharedRedisUrl());
  });
  beforeEach(() => {
    prefix = `${uniquePrefix('throttle')}:`;
    clock = Date.now();
  });
  afterAll(() => redis.quit());

  it('reserves 1 % of the limit at once, and 1 below a limit of 200', () => {
    expect(batchFor(6000)).toBe(60);
    expect(batchFor(1000)).toBe(10);
    expect(batchFor(199)).toBe(1);
    expect(batchFor(5)).toBe(1);
    // A replica's GATEWAY_WORKERS processes share its 1 %.
    expect(batchFor(6000, 4)).toBe(15);
    expect(batchFor(6000, 64)).toBe(1);
  });

  it('below a limit of 200 counts every hit in Redis and refuses the one past the limit', async () => {
    const s = storage();
    for (let i = 1; i <= 150; i++) {
      const hit = await s.increment('k', TTL, 150, TTL, 'default');
      expect(hit).toMatchObject({ totalHits: i, isBlocked: false });
      expect(await hitsInRedis('k')).toBe(i);
    }
    expect((await s.increment('k', TTL, 150, TTL, 'default')).isBlocked).toBe(true);
  });

  it('lets exactly the limit through from one replica, asking Redis once per batch', async () => {
    const s = storage();
    const totals: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const hit = await s.increment('k', TTL, 1000, TTL, 'default');
      expect(hit.isBlocked).toBe(false);
      totals.push(hit.totalHits);
      // Redis has counted this hit already, and at most a batch ahead of it; the hit reports
      // that count (the batch it came from), so the remaining hits it advertises are free.
      const counted = await hitsInRedis('k');
      expect(hit.totalHits).toBe(counted);
      expect(counted - (i + 1)).toBeGreaterThanOrEqual(0);
      expect(counted - (i + 1)).toBeLessThan(10);
    }
    expect(totals[totals.length - 1]).toBe(1000);
    const refused = await s.increment('k', TTL, 1000, TTL, 'default');
    expect(refused).toMatchObject({ isBlocked: true, timeToBlockExpire: 60 });
  });

  it('never lets more than the limit through across replicas, and at most a batch less each', async () => {
    const replicas = [storage(), storage(), storage()];
    let admitted = 0;
    // Concurrent hits, spread over the replicas, until every replica refuses.
    for (let round = 0; round < 40; round++) {
      const hits = await Promise.all(
        Array.from({ length: 64 }, (_, i) =>
          replicas[i % 3].increment('k', TTL, 1000, TTL, 'default'),
        ),
      );
      admitted += hits.filter((h) => !h.isBlocked).length;
    }
    expect(admitted).toBeLessThanOrEqual(1000);
    expect(admitted).toBeGreaterThanOrEqual(1000 - 3 * (batchFor(1000) - 1));
  });

  it('holds one reservation in flight per key: concurrent first hits wait for it', async () => {
    const s = storage();
    const hits = await Promise.all(
      Array.from({ length: 64 }, () => s.increment('k', TTL, 1000, TTL, 'default')),
    );
    expect(hits.every((h) => !h.isBlocked)).toBe(true);
    // Seven batches of ten, one after the other (64 reservations at once would count 640).
    expect(await hitsInRedis('k')).toBe(70);
    expect([...new Set(hits.map((h) => h.totalHits))].sort((a, b) => a - b)).toEqual([
      10, 20, 30, 40, 50, 60, 70,
    ]);
  });

  it('drops reserved hits when their window ends: the next hit asks Redis', async () => {
    const s = storage();
    await s.increment('k', TTL, 1000, TTL, 'default');
    expect(await hitsInRedis('k')).toBe(10);
    await s.increment('k', TTL, 1000, TTL, 'default');
    expect(await hitsInRedis('k')).toBe(10);
    clock += TTL;
    await s.increment('k', TTL, 1000, TTL, 'default');
    expect(await hitsInRedis('k')).toBe(20);
  });
});
