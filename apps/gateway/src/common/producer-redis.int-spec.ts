import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis, defineLuaCommand, waitForReady } from '@app/core';
import { RedisServer, uniquePrefix } from '../../../../test/support/redis-server';
import { isRedisUnavailable } from './error-shape';

/** Sets KEYS[1] to ARGV[1] only if it holds ARGV[2] ('' = absent); 1 when it did. */
const SWAP_LUA = `
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;

/**
 * The gateway's command connection (role `producer`) is auto-pipelined: commands that concurrent
 * requests issue within one turn of the event loop leave in one write. What the gateway relies
 * on, on a private redis-server (AOF always, as production runs it): they are batched, Redis runs
 * them in the order they were issued (scripts and BullMQ's add included), and with Redis gone a
 * whole batch fails at once with an error the gateway answers 503 for.
 */
describe('producer connection (auto-pipelined, real Redis)', () => {
  let server: RedisServer;
  let redis: Redis;
  const prefix = uniquePrefix('producer');

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });
  beforeEach(() => {
    redis = createRedis(server.url, 'producer', 'test-producer');
  });
  afterEach(async () => {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  });

  it('batches the commands issued in one turn and runs them in issue order', async () => {
    await waitForReady(redis, 5000);
    const swap = defineLuaCommand<[key: string, to: string, from: string], number>(
      redis,
      'waTestProducerSwap',
      { numberOfKeys: 1, lua: SWAP_LUA },
    );
    const key = `${prefix}:k`;
    const queue = new Queue('out.{producer-test}', { connection: redis, prefix });
    await queue.waitUntilReady();

    // All issued before this turn ends: none is on the wire yet, all wait in one batch.
    const set = redis.set(key, 'a');
    const swaps = [swap(key, 'b', 'a'), swap(key, 'c', 'a'), swap(key, 'c', 'b')];
    const incrs = Array.from({ length: 10 }, () => redis.incr(`${key}:n`));
    const read = redis.get(key);
    // (At least: BullMQ's Queue may have a write of its own waiting in the same batch.)
    expect(redis.autoPipelineQueueSize).toBeGreaterThanOrEqual(1 + swaps.length + incrs.length + 1);
    const added = queue.add('send', { n: 1 }, { jobId: 'j1', priority: 1 });

    expect(await set).toBe('OK');
    // Each swap saw the one before it: a→b applied, a→c refused, b→c applied.
    expect(await Promise.all(swaps)).toEqual([1, 0, 1]);
    expect(await Promise.all(incrs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await read).toBe('c');
    expect((await added).id).toBe('j1');
    expect(await queue.getJobCounts('prioritized')).toEqual({ prioritized: 1 });
    await queue.obliterate({ force: true });
    await queue.close();
    await redis.del(key, `${key}:n`);
  });

  it('with Redis gone, fails a whole batch at once, as "Redis unavailable" (the 503), and recovers', async () => {
    await waitForReady(redis, 5000);
    await server.kill();
    await new Promise<void>((resolve) =>
      redis.status === 'ready' ? redis.once('close', () => resolve()) : resolve(),
    );
    const outcomes = await Promise.allSettled([
      redis.get(`${prefix}:a`),
      redis.set(`${prefix}:b`, '1'),
      redis.exists(`${prefix}:c`),
    ]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(isRedisUnavailable((outcome as PromiseRejectedResult).reason)).toBe(true);
    }
    // And it answers again once Redis is back (ioredis reconnects; nothing was left queued).
    await server.launch();
    await waitForReady(redis, 10000);
    expect(await redis.exists(`${prefix}:b`)).toBe(0);
  });

  it('with Redis killed while a batch is on the wire, fails it and what follows as "Redis unavailable"', async () => {
    await waitForReady(redis, 5000);
    // A script that keeps Redis busy for half a second: the batch is sent, none of it answered.
    const busy = redis.eval(
      `local t0 = redis.call('TIME')
       repeat local t = redis.call('TIME')
       until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 500000
       return 1`,
      0,
    );
    const inBatch = [busy, redis.set(`${prefix}:d`, '1'), redis.get(`${prefix}:d`)];
    // Handed to the socket (no longer waiting in the batch), then Redis is killed: whether it
    // had started on the script or not, none of the batch is answered.
    while (redis.autoPipelineQueueSize > 0) await new Promise((resolve) => setImmediate(resolve));
    await server.kill();
    // Issued while the cut batch still counts as running: they wait for it, then are refused.
    const after = [redis.get(`${prefix}:e`), redis.exists(`${prefix}:f`)];
    const outcomes = await Promise.allSettled([...inBatch, ...after]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(isRedisUnavailable((outcome as PromiseRejectedResult).reason)).toBe(true);
    }
    await server.launch();
    await waitForReady(redis, 10000);
  });

  it('is the only auto-pipelined role: a worker connection writes each command as issued', () => {
    const worker = createRedis(server.url, 'worker', 'test-worker', { lazy: true });
    try {
      void worker.get(`${prefix}:x`).catch(() => undefined);
      expect(worker.autoPipelineQueueSize).toBe(0);
    } finally {
      worker.disconnect();
    }
  });
});
