import { Redis } from 'ioredis';
import { RedisKeys, type GatewayEvent, type MessageReceivedEventData } from '@app/core';
import { readEvents } from './support/event-stream';
import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
/** Small enough that a test can go over it without megabytes of JSON. */
const MEDIA_MAX_BYTES = 4096;
const SECRET_TEXT = 'my card ends in 4242-xq7, please call me';

/**
 * Incoming messages end to end, on the real gateway and worker processes: a message posted to
 * a simulator session arrives through the worker's driver as a `message.received` event in the
 * durable log, once per WhatsApp id; its media is fetched on demand through the owning worker.
 */
describe('incoming messages (simulator)', () => {
  const sys = new TestSystem('incoming', {
    extra: {
      MEDIA_MAX_BYTES: String(MEDIA_MAX_BYTES),
      // A wwebjs session is created only to be refused: its start fails fast, no browser.
      CHROMIUM_PATH: '/nonexistent/chromium',
      // Everything is logged, so the last test can look for the text where it must not be.
      LOG_LEVEL: 'debug',
    },
  });
  let redis: Redis;
  let keys: RedisKeys;

  beforeAll(async () => {
    await sys.start();
    redis = new Redis(sys.env.redisUrl);
    keys = new RedisKeys(sys.env.prefix);
    await sys.readySession('in');
  }, 60000);
  afterAll(async () => {
    await redis?.quit();
    await sys.stop();
  }, 30000);

  async function received(waMessageId: string): Promise<GatewayEvent<MessageReceivedEventData>[]> {
    return (await readEvents(redis, keys)).filter(
      (e): e is GatewayEvent<MessageReceivedEventData> =>
        e.type === 'message.received' &&
        (e.data as MessageReceivedEventData).waMessageId === waMessageId,
    );
  }

  const incoming = (session: string, body: unknown) =>
    sys.api.post(`/api/sessions/${session}/simulator/incoming`, body);

  it('turns a text into one message.received event with the sender, chat and text', async () => {
    const res = await incoming('in', { from: '+1 555 123 4567', text: SECRET_TEXT });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ waMessageId: expect.stringMatching(/^false_15551234567@c\.us_/) });
    // The answer comes once the event is in the log.
    const events = await received(res.body.waMessageId);
    expect(events).toEqual([
      {
        id: expect.stringMatching(/^evt_in_[0-9a-f]{32}$/),
        type: 'message.received',
        session: 'in',
        timestamp: expect.any(String),
        data: {
          waMessageId: res.body.waMessageId,
          from: '15551234567',
          chatId: '15551234567@c.us',
          author: null,
          text: SECRET_TEXT,
          type: 'chat',
          media: null,
          sentAt: expect.any(String),
          isGroup: false,
        },
      },
    ]);
    expect(Number.isNaN(Date.parse(events[0].data.sentAt))).toBe(false);
  });

  it('records a message delivered twice under one WhatsApp id once', async () => {
    const waMessageId = 'false_15551234567@c.us_3EB0REPLAYED0001';
    const first = await incoming('in', { from: '15551234567', text: 'replayed', waMessageId });
    const again = await incoming('in', { from: '15551234567', text: 'replayed', waMessageId });
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(again.body).toEqual({ waMessageId });
    expect(await received(waMessageId)).toHaveLength(1);
  });

  it('gives media as metadata in the event, and its bytes on demand', async () => {
    const res = await incoming('in', {
      from: '15551234567',
      media: {
        base64: PNG.toString('base64'),
        mimetype: 'image/png',
        filename: 'dot.png',
        caption: 'a dot',
      },
    });
    expect(res.status).toBe(202);
    const [event] = await received(res.body.waMessageId);
    expect(event.data).toMatchObject({
      text: 'a dot',
      type: 'image',
      media: { mimetype: 'image/png', filename: 'dot.png', size: PNG.length },
    });

    const download = await fetch(
      `${sys.gateway.url}/api/sessions/in/incoming/${encodeURIComponent(res.body.waMessageId)}/media`,
      { headers: { 'x-api-key': sys.env.apiKey } },
    );
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(download.headers.get('content-disposition')).toContain('filename="dot.png"');
    expect(Buffer.from(await download.arrayBuffer())).toEqual(PNG);
    // The bytes went through a short-lived hand-over hash, which the gateway took.
    expect(await redis.keys(`${sys.env.prefix}:session:{in}:media-transfer:*`)).toEqual([]);
  });

  it('answers 404 with a code for a message without media, an unknown message or session', async () => {
    const text = await incoming('in', { from: '15551234567', text: 'no media' });
    const none = await sys.api.get(`/api/sessions/in/incoming/${text.body.waMessageId}/media`);
    expect([none.status, none.body.error.code]).toEqual([404, 'NO_MEDIA']);
    const unknown = await sys.api.get(
      '/api/sessions/in/incoming/false_15551234567@c.us_3EB0NEVER/media',
    );
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'INCOMING_MESSAGE_NOT_FOUND']);
    const odd = await sys.api.get('/api/sessions/in/incoming/not%20an%20id/media');
    expect([odd.status, odd.body.error.code]).toEqual([404, 'INCOMING_MESSAGE_NOT_FOUND']);
    const session = await sys.api.get('/api/sessions/nope/incoming/false_1@c.us_3EB0/media');
    expect([session.status, session.body.error.code]).toEqual([404, 'SESSION_NOT_FOUND']);
  });

  it.each([
    ['no sender', { text: 'hi' }, 400, 'VALIDATION_FAILED'],
    ['a sender that is not a phone', { from: 'someone', text: 'hi' }, 400, 'INVALID_SENDER'],
    [
      'a group as the sender',
      { from: '120363000000000000@g.us', text: 'hi' },
      400,
      'INVALID_SENDER',
    ],
    ['neither text nor media', { from: '15551234567' }, 400, 'VALIDATION_FAILED'],
    [
      'text over 4096 characters',
      { from: '15551234567', text: 'x'.repeat(4097) },
      400,
      'VALIDATION_FAILED',
    ],
    ['an unknown field', { from: '15551234567', text: 'hi', extra: 1 }, 400, 'VALIDATION_FAILED'],
    [
      'a waMessageId with a space',
      { from: '15551234567', text: 'hi', waMessageId: 'a b' },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'media with both url and base64',
      {
        from: '15551234567',
        media: { url: 'https://example.com/a.png', base64: 'AAAA', mimetype: 'image/png' },
      },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'inline media over MEDIA_MAX_BYTES',
      {
        from: '15551234567',
        media: {
          base64: Buffer.alloc(MEDIA_MAX_BYTES + 1).toString('base64'),
          mimetype: 'application/pdf',
        },
      },
      413,
      'MEDIA_TOO_LARGE',
    ],
    [
      'inline media its bytes contradict (checked by the worker, as outgoing)',
      {
        from: '15551234567',
        media: { base64: PNG.toString('base64'), mimetype: 'application/pdf' },
      },
      400,
      'INVALID_MEDIA',
    ],
    [
      'a media URL on a loopback address',
      { from: '15551234567', media: { url: 'http://127.0.0.1:9/a.png' } },
      400,
      'MEDIA_URL_FORBIDDEN',
    ],
  ])(
    'refuses %s with its status and code, recording nothing',
    async (_what, body, status, code) => {
      const before = (await readEvents(redis, keys)).length;
      const res = await incoming('in', body);
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
      expect((await readEvents(redis, keys)).length).toBe(before);
    },
  );

  it('answers 404 for an unknown session and 409 for a session that is not a simulator', async () => {
    const unknown = await incoming('nope', { from: '15551234567', text: 'hi' });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'SESSION_NOT_FOUND']);
    const created = await sys.api.post('/api/sessions', { id: 'in-real', driver: 'wwebjs' });
    expect(created.status).toBe(201);
    const real = await incoming('in-real', { from: '15551234567', text: 'hi' });
    expect([real.status, real.body.error.code]).toEqual([400, 'NOT_SIMULATOR']);
    await sys.api.delete('/api/sessions/in-real');
  });

  it('answers 409 SESSION_NOT_READY while the session is not ready', async () => {
    const created = await sys.api.createSession('in-qr', { simulator: { linkAfterMs: 600000 } });
    expect(created.status).toBe(201);
    await sys.waitForStatus('in-qr', 'qr');
    const res = await incoming('in-qr', { from: '15551234567', text: 'hi' });
    expect([res.status, res.body.error.code]).toEqual([409, 'SESSION_NOT_READY']);
    const media = await sys.api.get('/api/sessions/in-qr/incoming/false_1@c.us_3EB0/media');
    expect([media.status, media.body.error.code]).toEqual([409, 'SESSION_NOT_READY']);
  });

  it('needs the API key on both routes', async () => {
    const post = await fetch(`${sys.gateway.url}/api/sessions/in/simulator/incoming`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: '15551234567', text: 'hi' }),
    });
    expect(post.status).toBe(401);
    const get = await fetch(`${sys.gateway.url}/api/sessions/in/incoming/false_1@c.us_3EB0/media`);
    expect(get.status).toBe(401);
    expect(await get.json()).toEqual({
      error: { code: expect.any(String), message: expect.any(String) },
    });
  });

  it('never writes the text of a received message to the logs', async () => {
    await waitFor('the worker to log the received message', () =>
      sys.workers.get('worker-a')!.output.join('').includes('message received'),
    );
    const logs = [sys.gateway.proc, ...sys.workers.values()].map((p) => p.output.join('')).join('');
    // A marker no timestamp or id can contain by chance.
    expect(logs).not.toContain('4242-xq7');
  });
});

describe('incoming messages with no worker running the session', () => {
  const sys = new TestSystem('incoming-idle');

  beforeAll(() => sys.start([]), 60000);
  afterAll(() => sys.stop(), 30000);

  it('answers 409 SESSION_NOT_RUNNING at once on both routes', async () => {
    expect((await sys.api.createSession('idle')).status).toBe(201);
    const post = await sys.api.post('/api/sessions/idle/simulator/incoming', {
      from: '15551234567',
      text: 'hi',
    });
    expect([post.status, post.body.error.code]).toEqual([409, 'SESSION_NOT_RUNNING']);
    const get = await sys.api.get('/api/sessions/idle/incoming/false_1@c.us_3EB0/media');
    expect([get.status, get.body.error.code]).toEqual([409, 'SESSION_NOT_RUNNING']);
  });
});
