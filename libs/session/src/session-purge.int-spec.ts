import { Redis } from 'ioredis';
import { RedisKeys } from '@app/core';
import { deleteByPrefix, sharedRedisUrl, uniquePrefix } from '../../../test/support/redis-server';
import { SessionPurger } from './session-purge';

describe('SessionPurger (real Redis): what a deleted session leaves for webhooks', () => {
  const prefix = uniquePrefix('purge');
  const keys = new RedisKeys(prefix);
  let redis: Redis;
  let purger: SessionPurger;

  beforeAll(() => {
    redis = new Redis(sharedRedisUrl());
    purger = new SessionPurger(redis, keys);
  });
  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('drops the session’s dead-letter index and its endpoint’s 410 mark, nobody else’s', async () => {
    await redis.zadd(keys.webhookDeadLetters('gone'), 1, 'evt_1.session');
    await redis.zadd(keys.webhookDeadLetters(), 1, 'evt_1.session');
    await redis.zadd(keys.webhookDeadLetters('kept'), 1, 'evt_2.session');
    await redis.hset(
      keys.webhookDisabled(),
      'session:gone',
      'x',
      'session:kept',
      'x',
      'global',
      'x',
    );

    expect(await purger.purge('gone')).toBe('purged');

    expect(await redis.exists(keys.webhookDeadLetters('gone'))).toBe(0);
    expect(await redis.zcard(keys.webhookDeadLetters('kept'))).toBe(1);
    // The global index prunes expired letters itself when listed.
    expect(await redis.zcard(keys.webhookDeadLetters())).toBe(1);
    expect((await redis.hkeys(keys.webhookDisabled())).sort()).toEqual(['global', 'session:kept']);
  });

  it('touches nothing while the id is registered again (a re-created session)', async () => {
    await redis.hset(keys.session('again'), 'id', 'again');
    await redis.hset(keys.webhookDisabled(), 'session:again', 'x');
    expect(await purger.purge('again')).toBe('recreated');
    expect(await redis.hexists(keys.webhookDisabled(), 'session:again')).toBe(1);
  });
});
