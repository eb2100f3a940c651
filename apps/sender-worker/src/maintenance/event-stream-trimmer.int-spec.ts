import type { Redis } from 'ioredis';
import pino from 'pino';
import { createRedis, RedisKeys, waitForReady } from '@app/core';
import { sharedRedisUrl, uniquePrefix } from '../../../../test/support/redis-server';
import type { WorkerConfig } from '../config/worker.config';
import { WEBHOOK_ROUTER_GROUP } from '../webhooks/webhook-router.service';
import { EventStreamTrimmer } from './event-stream-trimmer';

let redis: Redis;
beforeAll(async () => {
  redis = createRedis(sharedRedisUrl(), 'worker', 'trimmer-test');
  await waitForReady(redis, 5000);
});
afterAll(() => redis.quit());

/** A stream of `n` entries with ids `<1000+i>-0` (long past any retention). */
async function oldStream(keys: RedisKeys, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(
      await (redis.xadd(keys.eventStream(), `${1000 + i}-0`, 'id', `e${i}`) as Promise<string>),
    );
  }
  return ids;
}

const remaining = async (keys: RedisKeys) =>
  (await redis.xrange(keys.eventStream(), '-', '+')).map(([id]) => id);

function trimmer(keys: RedisKeys, retentionMs = 3_600_000): EventStreamTrimmer {
  const config = { eventStreamRetentionMs: retentionMs } as WorkerConfig;
  return new EventStreamTrimmer(redis, keys, config, pino({ level: 'silent' }));
}

describe('EventStreamTrimmer (real Redis stream)', () => {
  it('never drops an entry the router group has not acknowledged, however old', async () => {
    const keys = new RedisKeys(uniquePrefix('trim'));
    const ids = await oldStream(keys, 10);
    await redis.xgroup('CREATE', keys.eventStream(), WEBHOOK_ROUTER_GROUP, '0');
    // A router read five entries and acknowledged the first three; five are unread.
    await redis.xreadgroup(
      'GROUP',
      WEBHOOK_ROUTER_GROUP,
      'w',
      'COUNT',
      5,
      'STREAMS',
      keys.eventStream(),
      '>',
    );
    await redis.xack(keys.eventStream(), WEBHOOK_ROUTER_GROUP, ids[0], ids[1], ids[2]);

    await expect(trimmer(keys).trim()).resolves.toBe(3);
    expect(await remaining(keys)).toEqual(ids.slice(3));

    // All read and acknowledged: only the last read entry itself stays.
    await redis.xreadgroup('GROUP', WEBHOOK_ROUTER_GROUP, 'w', 'STREAMS', keys.eventStream(), '>');
    await redis.xack(keys.eventStream(), WEBHOOK_ROUTER_GROUP, ...ids);
    await trimmer(keys).trim();
    expect(await remaining(keys)).toEqual([ids[9]]);
    await redis.del(keys.eventStream());
  });

  it('keeps routed entries younger than the retention', async () => {
    const keys = new RedisKeys(uniquePrefix('trim'));
    await redis.xgroup('CREATE', keys.eventStream(), WEBHOOK_ROUTER_GROUP, '0', 'MKSTREAM');
    const fresh = await (redis.xadd(keys.eventStream(), '*', 'id', 'new') as Promise<string>);
    await redis.xreadgroup('GROUP', WEBHOOK_ROUTER_GROUP, 'w', 'STREAMS', keys.eventStream(), '>');
    await redis.xadd(keys.eventStream(), '*', 'id', 'newer');
    await redis.xack(keys.eventStream(), WEBHOOK_ROUTER_GROUP, fresh);
    await expect(trimmer(keys, 60_000).trim()).resolves.toBe(0);
    expect(await remaining(keys)).toHaveLength(2);
    await redis.del(keys.eventStream());
  });

  it('trims nothing while no router group exists', async () => {
    const keys = new RedisKeys(uniquePrefix('trim'));
    await oldStream(keys, 3);
    await expect(trimmer(keys).trim()).resolves.toBe(0);
    expect(await remaining(keys)).toHaveLength(3);
    await redis.del(keys.eventStream());
  });
});
