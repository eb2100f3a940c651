import { Redis } from 'ioredis';
import { sharedRedisUrl, uniquePrefix } from '../../../../test/support/redis-server';
import { AuthFailureLimiter } from './auth-failures';

describe('AuthFailureLimiter (real Redis)', () => {
  const LIMIT = 3;
  let redis: Redis;
  let prefix: string;
  let clock: number;
  const now = () => clock;
  const limiter = (maxAddresses = 100) =>
    new AuthFailureLimiter(redis, prefix, LIMIT, maxAddresses, now);

  beforeAll(() => {
    redis = new Redis(sharedRedisUrl());
  });
  beforeEach(() => {
    prefix = `${uniquePrefix('auth-failures')}:`;
    clock = Date.now();
  });
  afterAll(() => redis.quit());

  it('blocks an address after `limit` failures, with the time left in its window', async () => {
    const l = limiter();
    for (let i = 0; i < LIMIT - 1; i++) await l.record('198.51.100.1');
    expect(await l.blockedFor('198.51.100.1')).toBe(0);
    await l.record('198.51.100.1');

    const wait = await l.blockedFor('198.51.100.1');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(await l.blockedFor('198.51.100.2')).toBe(0);
  });

  it('still refuses the right key from an address blocked by wrong ones (same process)', async () => {
    const l = limiter();
    // A valid key first: its answer (not blocked) is remembered.
    expect(await l.blockedFor('198.51.100.3', { validKey: true })).toBe(0);
    for (let i = 0; i < LIMIT; i++) {
      expect(await l.blockedFor('198.51.100.3')).toBe(0);
      await l.record('198.51.100.3');
    }
    // Within the second the valid key's answer was cached for: the records refreshed it.
    expect(await l.blockedFor('198.51.100.3', { validKey: true })).toBeGreaterThan(0);
    expect(await l.blockedFor('198.51.100.3')).toBeGreaterThan(0);
  });

  it('asks Redis for every missing or wrong key; a valid key goes by the last answer for a second', async () => {
    const here = limiter();
    const otherReplica = limiter();
    expect(await here.blockedFor('198.51.100.4', { validKey: true })).toBe(0);
    for (let i = 0; i < LIMIT; i++) await otherReplica.record('198.51.100.4');

    // A wrong key is never answered from memory: blocked at once, whoever counted.
    expect(await here.blockedFor('198.51.100.4')).toBeGreaterThan(0);

    const fresh = limiter();
    expect(await fresh.blockedFor('198.51.100.5', { validKey: true })).toBe(0);
    for (let i = 0; i < LIMIT; i++) await otherReplica.record('198.51.100.5');
    // The documented slack: a valid key, another replica's block younger than the answer.
    expect(await fresh.blockedFor('198.51.100.5', { validKey: true })).toBe(0);
    clock += 1000;
    expect(await fresh.blockedFor('198.51.100.5', { validKey: true })).toBeGreaterThan(0);
  });

  it('answers a blocked address from memory whatever key it presents (no timing oracle)', async () => {
    const l = limiter();
    for (let i = 0; i < LIMIT; i++) await l.record('198.51.100.6');
    expect(await l.blockedFor('198.51.100.6')).toBeGreaterThan(0);
    // Redis forgets the block: an answer that still says blocked came from memory, for the
    // wrong key as for the right one, so neither waited on a Redis round trip the other skipped.
    await redis.del(`${prefix}auth-failures:{198.51.100.6}`);
    expect(await l.blockedFor('198.51.100.6')).toBeGreaterThan(0);
    expect(await l.blockedFor('198.51.100.6', { validKey: true })).toBeGreaterThan(0);
    // Once the answer is a second old, both ask Redis again.
    clock += 1000;
    expect(await l.blockedFor('198.51.100.6')).toBe(0);
  });

  it('keeps answers for at most `maxAddresses` addresses, the newest', async () => {
    const l = limiter(5);
    for (let i = 0; i < 50; i++) await l.blockedFor(`203.0.113.${i}`, { validKey: true });
    expect(l.rememberedAddresses).toBe(5);
    for (let i = 0; i < 50; i++) await l.record(`192.0.2.${i}`);
    expect(l.rememberedAddresses).toBe(5);

    // The newest is still answered from memory: blocked by a count it did not read again.
    for (let i = 0; i < LIMIT; i++) await l.record('192.0.2.200');
    await redis.del(`${prefix}auth-failures:{192.0.2.200}`);
    expect(await l.blockedFor('192.0.2.200', { validKey: true })).toBeGreaterThan(0);
  });
});
