import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import pino from 'pino';
import { EventLog, RedisKeys } from '@app/core';
import type { IncomingMessage } from '@app/session';
import { sharedRedisUrl, uniquePrefix } from '../../../../test/support/redis-server';
import { readEvents } from '../../../../test/support/event-stream';
import { incomingEventId, IncomingRecorder } from './incoming-recorder';

describe('IncomingRecorder: one message.received per incoming message, on the real Redis', () => {
  let redis: Redis;
  let keys: RedisKeys;
  let lines: string[];
  let leaseHeld: boolean;

  const message = (over: Partial<IncomingMessage> = {}): IncomingMessage => ({
    waMessageId: 'false_15551112222@c.us_3EB0AAA',
    from: '15551112222',
    chatId: '15551112222@c.us',
    senderName: 'Ana',
    text: 'my secret order number is 4242',
    type: 'image',
    media: { mimetype: 'image/png', filename: 'dot.png', size: 68 },
    timestamp: '2024-05-01T10:00:00.000Z',
    isGroup: false,
    ...over,
  });

  function recorder(sessionId = 'sales'): IncomingRecorder {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    return new IncomingRecorder(
      sessionId,
      new EventLog(redis, keys),
      async () => leaseHeld,
      pino({ level: 'debug' }, sink),
    );
  }

  beforeAll(() => {
    redis = new Redis(sharedRedisUrl());
  });
  afterAll(() => redis.quit());
  beforeEach(() => {
    keys = new RedisKeys(uniquePrefix('incoming'));
    lines = [];
    leaseHeld = true;
  });

  it('records the message as message.received with its data, under an id derived from it', async () => {
    expect(await recorder().record(message())).toBe('recorded');
    const events = await readEvents(redis, keys);
    expect(events).toEqual([
      {
        id: incomingEventId('sales', 'false_15551112222@c.us_3EB0AAA'),
        type: 'message.received',
        session: 'sales',
        timestamp: expect.any(String),
        data: {
          waMessageId: 'false_15551112222@c.us_3EB0AAA',
          from: '15551112222',
          chatId: '15551112222@c.us',
          author: 'Ana',
          text: 'my secret order number is 4242',
          type: 'image',
          media: { mimetype: 'image/png', filename: 'dot.png', size: 68 },
          sentAt: '2024-05-01T10:00:00.000Z',
          isGroup: false,
        },
      },
    ]);
    expect(events[0].id).toMatch(/^evt_in_[0-9a-f]{32}$/);
  });

  it('records a message seen again (a reconnect, another worker) once, at once or later', async () => {
    const a = recorder();
    const outcomes = await Promise.all([a.record(message()), a.record(message())]);
    expect(outcomes).toEqual(['recorded', 'recorded']);
    expect(await recorder().record(message())).toBe('duplicate');
    expect(await readEvents(redis, keys)).toHaveLength(1);
  });

  it('gives the same WhatsApp id in two sessions two events', async () => {
    await recorder('sales').record(message());
    await recorder('support').record(message());
    const ids = (await readEvents(redis, keys)).map((e) => e.id);
    expect(new Set(ids).size).toBe(2);
  });

  it('records nothing once the lease is no longer ours', async () => {
    leaseHeld = false;
    expect(await recorder().record(message())).toBe('not-owner');
    expect(await readEvents(redis, keys)).toEqual([]);
  });

  it('logs the WhatsApp id and event id, never the text', async () => {
    await recorder().record(message());
    const log = lines.join('');
    expect(log).toContain('false_15551112222@c.us_3EB0AAA');
    expect(log).not.toContain('4242');
  });
});
