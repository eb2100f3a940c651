import { Redis } from 'ioredis';
import {
  deleteByPrefix,
  sharedRedisUrl,
  uniquePrefix,
} from '../../../../test/support/redis-server';
import { RedisKeys } from '../redis/redis-keys';
import { EventLog } from './event-log';
import type { GatewayEvent } from './event.types';

describe('EventLog (real Redis)', () => {
  const prefix = uniquePrefix('event-log');
  const keys = new RedisKeys(prefix);
  let redis: Redis;
  let log: EventLog;

  beforeAll(() => {
    redis = new Redis(sharedRedisUrl());
    log = new EventLog(redis, keys);
  });
  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });
  beforeEach(async () => {
    await redis.del(keys.eventStream(), keys.sessionOutbox('s1'));
  });

  const ids = async () => (await log.after('0', 1000)).map((e) => e.event.id);
  const recorded = (ageMs: number): GatewayEvent =>
    EventLog.create('session.status', 's1', { status: 'ready' }, new Date(Date.now() - ageMs));

  it('flush moves an outbox entry into the stream and out of the outbox', async () => {
    const event = recorded(0);
    const json = JSON.stringify(event);
    await redis.rpush(keys.sessionOutbox('s1'), json);
    await log.flush(keys.sessionOutbox('s1'), json);
    expect(await ids()).toEqual([event.id]);
    expect(await redis.llen(keys.sessionOutbox('s1'))).toBe(0);
    const [entry] = await log.after('0', 10);
    expect(entry.event).toEqual(event);
    expect(entry.position).toMatch(/^\d+-\d+$/);
  });

  it('repair appends what a crash left between the fact and the flush, once', async () => {
    // The fact's step wrote the outbox entry; the writer died before its flush.
    const event = recorded(60_000);
    await redis.rpush(keys.sessionOutbox('s1'), JSON.stringify(event));
    expect(await log.repair(keys.sessionOutbox('s1'), 30_000)).toBe(1);
    expect(await log.repair(keys.sessionOutbox('s1'), 30_000)).toBe(0);
    expect(await ids()).toEqual([event.id]);
    expect(await redis.llen(keys.sessionOutbox('s1'))).toBe(0);
  });

  it('repair does not double an event whose flush reached the stream before the crash', async () => {
    const event = recorded(60_000);
    const json = JSON.stringify(event);
    await redis.rpush(keys.sessionOutbox('s1'), json);
    // The flush's XADD ran (the crash came before its LREM): other events came after it.
    await log.append(event);
    for (let i = 0; i < 5; i++) await log.append(recorded(0));
    expect(await log.repair(keys.sessionOutbox('s1'), 30_000)).toBe(0);
    expect((await ids()).filter((id) => id === event.id)).toHaveLength(1);
    expect(await redis.llen(keys.sessionOutbox('s1'))).toBe(0);
  });

  it('repair leaves an entry younger than minAge alone (its writer may still be flushing)', async () => {
    const event = recorded(0);
    await redis.rpush(keys.sessionOutbox('s1'), JSON.stringify(event));
    expect(await log.repair(keys.sessionOutbox('s1'), 30_000)).toBe(0);
    expect(await ids()).toEqual([]);
    expect(await redis.llen(keys.sessionOutbox('s1'))).toBe(1);
  });

  it('appendOnce appends a fact seen twice once', async () => {
    const event = { ...recorded(0), id: 'evt_in_fixed' };
    expect(await log.appendOnce(event)).toMatch(/^\d+-\d+$/);
    expect(await log.appendOnce(event)).toBeNull();
    expect(await ids()).toEqual(['evt_in_fixed']);
  });

  it('after() pages from a position, exclusive', async () => {
    const events = [recorded(0), recorded(0), recorded(0)];
    for (const e of events) await log.append(e);
    const [first, ...rest] = await log.after('0', 10);
    expect(first.event.id).toBe(events[0].id);
    expect((await log.after(first.position, 10)).map((e) => e.event.id)).toEqual(
      rest.map((e) => e.event.id),
    );
  });
});
