import { Redis } from 'ioredis';
import { RedisKeys } from '@app/core';
import { sharedRedisUrl, uniquePrefix } from '../../../../test/support/redis-server';
import { ApiError } from '../common/api-error';
import { IdempotencyService } from './idempotency.service';

describe('IdempotencyService (real Redis)', () => {
  let redis: Redis;
  let keys: RedisKeys;
  let service: IdempotencyService;

  beforeAll(() => {
    redis = new Redis(sharedRedisUrl());
    keys = new RedisKeys(uniquePrefix('idem'));
    service = new IdempotencyService(redis, keys);
  });
  afterAll(() => redis.quit());

  const handler = () => jest.fn(async (_ids: string[], _resumed: boolean) => undefined);

  it('runs the first request, replays the same one with the same ids, refuses another body', async () => {
    const h = handler();
    const first = await service.run('client', 'k1', 'hash-a', ['m1'], h);
    expect(first).toEqual({ ids: ['m1'], replayed: false });
    const again = await service.run('client', 'k1', 'hash-a', ['m2'], h);
    expect(again).toEqual({ ids: ['m1'], replayed: true });
    expect(h).toHaveBeenCalledTimes(1);
    await expect(service.run('client', 'k1', 'hash-b', ['m3'], h)).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    // Another client's identical key is another key.
    expect(await service.run('other', 'k1', 'hash-b', ['m4'], h)).toEqual({
      ids: ['m4'],
      replayed: false,
    });
  });

  it('answers 409 while the first request is still running', async () => {
    let release!: () => void;
    const slow = jest.fn(() => new Promise<void>((r) => (release = r)));
    const first = service.run('client', 'k2', 'h', ['m1'], slow);
    await new Promise((r) => setImmediate(r));
    await expect(service.run('client', 'k2', 'h', ['m2'], handler())).rejects.toMatchObject({
      code: 'IDEMPOTENCY_IN_PROGRESS',
    });
    release();
    expect(await first).toEqual({ ids: ['m1'], replayed: false });
  });

  it('forgets the key after a 4xx refusal, so a corrected retry runs', async () => {
    const refuse = jest.fn(async () => {
      throw ApiError.notFound('SESSION_NOT_FOUND', 'no');
    });
    await expect(service.run('client', 'k3', 'h', ['m1'], refuse)).rejects.toBeInstanceOf(ApiError);
    const h = handler();
    expect(await service.run('client', 'k3', 'h', ['m2'], h)).toEqual({
      ids: ['m2'],
      replayed: false,
    });
  });

  it('resumes a request that died mid-way with the ids it had chosen', async () => {
    const crash = jest.fn(async () => {
      throw new Error('Connection is closed.');
    });
    await expect(service.run('client', 'k4', 'h', ['m-original'], crash)).rejects.toThrow(
      'Connection is closed',
    );
    // Right after: the first may still be running somewhere, so 409.
    await expect(service.run('client', 'k4', 'h', ['m-new'], handler())).rejects.toMatchObject({
      code: 'IDEMPOTENCY_IN_PROGRESS',
    });
    // Later (the pending record is stale): resumed, with the original ids.
    const key = keys.idempotency('client', 'k4');
    const stored = JSON.parse((await redis.get(key))!);
    await redis.set(key, JSON.stringify({ ...stored, at: Date.now() - 60000 }), 'KEEPTTL');
    const h = handler();
    expect(await service.run('client', 'k4', 'h', ['m-new'], h)).toEqual({
      ids: ['m-original'],
      replayed: false,
    });
    expect(h).toHaveBeenCalledWith(['m-original'], true);
    expect(await service.run('client', 'k4', 'h', ['m-other'], handler())).toEqual({
      ids: ['m-original'],
      replayed: true,
    });
    expect(await redis.ttl(key)).toBeGreaterThan(86000);
  });
});
