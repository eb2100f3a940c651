import { Redis } from 'ioredis';
import { RedisKeys } from '@app/core';
import { sharedRedisUrl, uniquePrefix } from '../../../../test/support/redis-server';
import { Pacing } from './pacing';

describe('Pacing (real Redis)', () => {
  let redis: Redis;
  const keys = new RedisKeys(uniquePrefix('pace'));

  beforeAll(() => {
    redis = new Redis(sharedRedisUrl());
  });
  afterAll(() => redis.quit());

  it('never waits when pacing is off', async () => {
    const p = new Pacing(redis, keys, 'off', { perMinute: 0, minDelayMs: 0, maxDelayMs: 0 });
    expect(p.enabled).toBe(false);
    for (let i = 0; i < 5; i++) await p.recordSend(`m${i}`);
    expect(await p.waitMs()).toBe(0);
  });

  it('caps sends per minute on a sliding window', async () => {
    const p = new Pacing(redis, keys, 'cap', { perMinute: 3, minDelayMs: 0, maxDelayMs: 0 });
    const t0 = 1_000_000;
    await p.recordSend('a', t0);
    await p.recordSend('b', t0 + 1000);
    expect(await p.waitMs(t0 + 2000)).toBe(0);
    await p.recordSend('c', t0 + 2000);
    // The oldest send leaves the window at t0 + 60 s.
    expect(await p.waitMs(t0 + 2000)).toBe(58000);
    expect(await p.waitMs(t0 + 59999)).toBe(1);
    expect(await p.waitMs(t0 + 60000)).toBe(0);
  });

  it('waits a random gap in [min, max] after each send, shared by every worker', async () => {
    const rate = { perMinute: 0, minDelayMs: 1000, maxDelayMs: 3000 };
    const p = new Pacing(redis, keys, 'gap', rate);
    const gaps = Array.from({ length: 200 }, () => p.nextGap());
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(3000);
    expect(new Set(gaps).size).toBeGreaterThan(50);

    const now = Date.now();
    await p.recordSend('x', now);
    const wait = await p.waitMs(now);
    expect(wait).toBeGreaterThanOrEqual(1000);
    expect(wait).toBeLessThanOrEqual(3000);
    // Another worker adopting the session sees the same budget.
    const other = new Pacing(redis, keys, 'gap', rate);
    expect(await other.waitMs(now + 500)).toBe(wait - 500);
  });
});
