import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { EventLog, RedisKeys } from '@app/core';
import {
  deliveryIdOf,
  WEBHOOKS_QUEUE,
  WebhookDeadLetterStore,
  type WebhookDeadLetter,
  type WebhookJob,
} from '@app/queue';
import { SessionStore } from '@app/session';
import { RedisServer } from './support/redis-server';
import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';

const newSecret = (bytes = 32) => `whsec_${randomBytes(bytes).toString('base64')}`;

let seq = 0;
/** A dead letter as the worker writes it, for `session`, dead at `deadAt`. */
function deadLetter(
  session: string,
  deadAt: string,
  endpoint: WebhookDeadLetter['endpoint'] = {
    kind: 'session',
    url: 'https://user:pw@hooks.example.com/in?token=t0ps3cret',
  },
): Omit<WebhookDeadLetter, 'replays'> {
  const event = EventLog.create('message.status', session, {
    messageId: `msg_${++seq}`,
    status: 'sent',
    previous: 'sending',
  });
  return {
    id: deliveryIdOf(event.id, endpoint.kind),
    session,
    event,
    endpoint,
    attempts: [{ at: deadAt, status: 503, error: 'HTTP 503', durationMs: 12 }],
    reason: { code: 'RETRIES_EXHAUSTED', message: 'No 2xx answer after 8 attempts' },
    deadAt,
  };
}

/** Every key of the test's prefix but the request throttler's counters. */
async function keysOf(redis: Redis, prefix: string, keys: RedisKeys): Promise<string[]> {
  const all = await redis.keys(`${prefix}:*`);
  return all.filter((k) => !k.startsWith(keys.throttler())).sort();
}

describe('webhook API: secrets, endpoint changes, dead letters and replay (real gateway, real Redis)', () => {
  let sys: TestSystem;
  let redis: Redis;
  let keys: RedisKeys;
  let store: WebhookDeadLetterStore;
  let sessions: SessionStore;
  let queue: Queue<WebhookJob>;
  let queueConnection: Redis;

  beforeAll(async () => {
    // Debug level: every request is logged, so the grep for secrets below looks at real lines.
    sys = new TestSystem('whapi', { extra: { LOG_LEVEL: 'debug' } });
    await sys.start([]);
    redis = new Redis(sys.env.redisUrl);
    keys = new RedisKeys(sys.env.prefix);
    store = new WebhookDeadLetterStore(redis, keys, 3600);
    sessions = new SessionStore(redis, keys, new EventLog(redis, keys));
    queueConnection = redis.duplicate();
    queue = new Queue(WEBHOOKS_QUEUE, { connection: queueConnection, prefix: sys.env.prefix });
  }, 60000);

  afterAll(async () => {
    await queue?.close();
    // A connection handed to BullMQ is shared: closing the queue leaves it open.
    await queueConnection?.quit();
    await redis?.quit();
    await sys?.stop();
  }, 30000);

  const jobsOf = async (deliveryId: string) =>
    (await queue.getJobs(['waiting', 'delayed', 'prioritized', 'active'])).filter(
      (j) => j.data.deliveryId === deliveryId,
    );

  describe('secrets', () => {
    const given = newSecret(48);
    let generated = '';

    it('generates a whsec_ secret when none is given and shows it in the 201 answer only', async () => {
      const res = await sys.api.createSession('gen', {
        webhook: { url: 'https://hooks.example.com/gen' },
      });
      expect(res.status).toBe(201);
      generated = res.body.webhook.secret;
      expect(generated).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      expect(Buffer.from(generated.slice(6), 'base64')).toHaveLength(32);
      expect(res.body.webhook).toEqual({
        url: 'https://hooks.example.com/gen',
        events: null,
        signed: true,
        secret: generated,
      });
      // Stored where the delivering worker reads it.
      expect((await sessions.get('gen'))?.config.webhook).toEqual({
        url: 'https://hooks.example.com/gen',
        secret: generated,
      });

      const one = await sys.api.get('/api/sessions/gen');
      expect(one.body.webhook).toEqual({
        url: 'https://hooks.example.com/gen',
        events: null,
        signed: true,
      });
      const all = await sys.api.get('/api/sessions');
      expect(JSON.stringify(all.body)).not.toContain(generated.slice(6));
      expect(JSON.stringify(one.body)).not.toContain(generated.slice(6));
    });

    it('keeps a valid given secret and the chosen event types', async () => {
      const res = await sys.api.createSession('given', {
        webhook: {
          url: 'https://hooks.example.com/given',
          secret: given,
          events: ['session.status', 'message.received', 'session.status'],
        },
      });
      expect(res.status).toBe(201);
      expect(res.body.webhook).toEqual({
        url: 'https://hooks.example.com/given',
        events: ['session.status', 'message.received'],
        signed: true,
        secret: given,
      });
      expect((await sessions.get('given'))?.config.webhook?.secret).toBe(given);
    });

    it('shows the URL as given only in the answer that set it; reads leave out credentials and query', async () => {
      const url = 'https://user:pa55@hooks.example.com/in?token=t0k3n';
      const res = await sys.api.createSession('tokened', { webhook: { url } });
      expect(res.status).toBe(201);
      expect(res.body.webhook.url).toBe(url);
      const read = await sys.api.get('/api/sessions/tokened');
      expect(read.body.webhook.url).toBe('https://hooks.example.com/in');
      expect(JSON.stringify((await sys.api.get('/api/sessions')).body)).not.toContain('t0k3n');
      // Stored as given: deliveries go to the URL with its token.
      expect((await sessions.get('tokened'))?.config.webhook?.url).toBe(url);
    });

    it('refuses a malformed secret or unknown event types with 400 and creates nothing', async () => {
      const bad = [
        [{ secret: 's' }, 'WEBHOOK_SECRET_INVALID'],
        [{ secret: newSecret(16) }, 'WEBHOOK_SECRET_INVALID'],
        [{ secret: newSecret(65) }, 'WEBHOOK_SECRET_INVALID'],
        [{ secret: randomBytes(32).toString('base64') }, 'WEBHOOK_SECRET_INVALID'],
        [{ events: ['message.sent'] }, 'VALIDATION_FAILED'],
        [{ events: [] }, 'VALIDATION_FAILED'],
        [{ events: 'message.status' }, 'VALIDATION_FAILED'],
      ] as const;
      for (const [extra, code] of bad) {
        const res = await sys.api.createSession('refused', {
          webhook: { url: 'https://hooks.example.com/x', ...extra },
        });
        expect([extra, res.status, res.body.error?.code]).toEqual([extra, 400, code]);
      }
      expect((await sys.api.get('/api/sessions/refused')).status).toBe(404);
    });

    it('never logs a secret', () => {
      const logs = sys.gateway.proc.logs();
      expect(logs).toContain('"service":"gateway"');
      for (const secret of [generated, given]) expect(logs).not.toContain(secret.slice(6));
    });
  });

  describe('PUT and DELETE /api/sessions/:id/webhook', () => {
    beforeAll(async () => {
      expect(
        (await sys.api.createSession('rot', { webhook: { url: 'https://a.example.com/1' } }))
          .status,
      ).toBe(201);
    });

    it('replaces url, secret and events, shows the new secret once, and re-enables the endpoint', async () => {
      const before = (await sessions.get('rot'))!.config.webhook!;
      await redis.hset(
        keys.webhookDisabled(),
        'session:rot',
        new Date().toISOString(),
        'global',
        'x',
      );
      const res = await sys.api.request('PUT', '/api/sessions/rot/webhook', {
        url: 'https://b.example.com/2',
        events: ['message.status'],
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        url: 'https://b.example.com/2',
        events: ['message.status'],
        signed: true,
        secret: expect.stringMatching(/^whsec_/),
      });
      expect(res.body.secret).not.toBe(before.secret);
      expect((await sessions.get('rot'))!.config.webhook).toEqual({
        url: 'https://b.example.com/2',
        secret: res.body.secret,
        events: ['message.status'],
      });
      // Only this endpoint's stop is lifted.
      expect(await redis.hkeys(keys.webhookDisabled())).toEqual(['global']);
      const view = await sys.api.get('/api/sessions/rot');
      expect(view.body.webhook).toEqual({
        url: 'https://b.example.com/2',
        events: ['message.status'],
        signed: true,
      });

      const given = newSecret(24);
      const again = await sys.api.request('PUT', '/api/sessions/rot/webhook', {
        url: 'https://b.example.com/2',
        secret: given,
      });
      expect([again.status, again.body.secret, again.body.events]).toEqual([200, given, null]);
      expect(sys.gateway.proc.logs()).not.toContain(res.body.secret.slice(6));
      expect(sys.gateway.proc.logs()).not.toContain(given.slice(6));
    });

    it('refuses a bad endpoint with 400 and keeps the old one', async () => {
      const before = (await sessions.get('rot'))!.config.webhook;
      for (const [body, code] of [
        [{ url: 'http://127.0.0.1:9/x' }, 'WEBHOOK_URL_NOT_ALLOWED'],
        [{ url: 'https://b.example.com/2', secret: 'whsec_abc' }, 'WEBHOOK_SECRET_INVALID'],
        [{ secret: newSecret() }, 'VALIDATION_FAILED'],
        [{ url: 'https://b.example.com/2', extra: 1 }, 'VALIDATION_FAILED'],
      ] as const) {
        const res = await sys.api.request('PUT', '/api/sessions/rot/webhook', body);
        expect([body, res.status, res.body.error?.code]).toEqual([body, 400, code]);
      }
      expect((await sessions.get('rot'))!.config.webhook).toEqual(before);
    });

    it('DELETE removes the endpoint (204) and re-enables it', async () => {
      await redis.hset(keys.webhookDisabled(), 'session:rot', new Date().toISOString());
      const res = await sys.api.delete('/api/sessions/rot/webhook');
      expect([res.status, res.body]).toEqual([204, '']);
      expect((await sessions.get('rot'))!.config.webhook).toBeNull();
      expect((await sys.api.get('/api/sessions/rot')).body.webhook).toBeNull();
      expect(await redis.hexists(keys.webhookDisabled(), 'session:rot')).toBe(0);
    });

    it('answers 404 for an unknown session and writes nothing', async () => {
      await sys.api.get('/api/sessions'); // the throttler's counter exists from here on
      const before = await keysOf(redis, sys.env.prefix, keys);
      const put = await sys.api.request('PUT', '/api/sessions/ghost/webhook', {
        url: 'https://b.example.com/2',
      });
      const del = await sys.api.delete('/api/sessions/ghost/webhook');
      const badId = await sys.api.delete('/api/sessions/Not%20An%20Id/webhook');
      expect([put.status, put.body.error?.code]).toEqual([404, 'SESSION_NOT_FOUND']);
      expect([del.status, del.body.error?.code]).toEqual([404, 'SESSION_NOT_FOUND']);
      expect(badId.status).toBe(404);
      expect(await keysOf(redis, sys.env.prefix, keys)).toEqual(before);
    });
  });

  describe('dead letters', () => {
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    const a1 = deadLetter('dl-a', t(1));
    const b1 = deadLetter('dl-b', t(2), { kind: 'global', url: 'https://g.example.com/hook?k=1' });
    const a2 = deadLetter('dl-a', t(3));

    beforeAll(async () => {
      for (const l of [a1, b1, a2]) await store.add(l);
    });

    it('lists newest first, filters by session, pages, and hides URL credentials and query', async () => {
      const all = await sys.api.get('/api/webhooks/dead-letters');
      expect(all.status).toBe(200);
      expect(all.body.total).toBe(3);
      expect(all.body.deadLetters.map((l: { id: string }) => l.id)).toEqual([a2.id, b1.id, a1.id]);
      expect(all.body.deadLetters[0]).toEqual({
        ...a2,
        endpoint: { kind: 'session', url: 'https://hooks.example.com/in' },
        replays: 0,
      });
      expect(JSON.stringify(all.body)).not.toMatch(/t0ps3cret|user:pw|k=1/);

      const a = await sys.api.get('/api/webhooks/dead-letters?session=dl-a');
      expect([a.body.total, a.body.deadLetters.map((l: { id: string }) => l.id)]).toEqual([
        2,
        [a2.id, a1.id],
      ]);
      const page = await sys.api.get('/api/webhooks/dead-letters?limit=1&offset=1');
      expect(page.body.deadLetters.map((l: { id: string }) => l.id)).toEqual([b1.id]);
      const one = await sys.api.get(`/api/webhooks/dead-letters/${b1.id}`);
      expect([one.status, one.body.endpoint]).toEqual([
        200,
        { kind: 'global', url: 'https://g.example.com/hook' },
      ]);
    });

    it('refuses bad queries and ids with 400, and answers 404 for an unknown id', async () => {
      for (const q of [
        'limit=501',
        'limit=0',
        'limit=x',
        'offset=-1',
        'offset=1e21',
        'session=Bad!',
        'other=1',
      ]) {
        const res = await sys.api.get(`/api/webhooks/dead-letters?${q}`);
        expect([q, res.status, res.body.error?.code]).toEqual([q, 400, 'VALIDATION_FAILED']);
      }
      for (const path of ['not-a-delivery', 'evt_1.other', 'evt%3A1.session']) {
        expect((await sys.api.get(`/api/webhooks/dead-letters/${path}`)).status).toBe(400);
        expect((await sys.api.post(`/api/webhooks/dead-letters/${path}/replay`)).status).toBe(400);
      }
      const missing = await sys.api.get('/api/webhooks/dead-letters/evt_nope.session');
      expect([missing.status, missing.body.error?.code]).toEqual([404, 'DEAD_LETTER_NOT_FOUND']);
      const bulk = await sys.api.post('/api/webhooks/dead-letters/replay', { session: 'Bad!' });
      expect(bulk.status).toBe(400);
    });

    it('replays one: the same event on the webhooks queue as <id>.r1, the dead letter gone, the endpoint re-enabled', async () => {
      await redis.hset(keys.webhookDisabled(), 'session:dl-a', t(3));
      const res = await sys.api.post(`/api/webhooks/dead-letters/${a1.id}/replay`);
      expect([res.status, res.body]).toEqual([202, { id: a1.id, jobId: `${a1.id}.r1` }]);

      const job = await queue.getJob(`${a1.id}.r1`);
      expect(job?.name).toBe('deliver');
      expect(job?.data).toEqual({ deliveryId: a1.id, event: a1.event, endpoint: a1.endpoint });
      expect(job?.opts.attempts).toBe(8);
      expect((await sys.api.get(`/api/webhooks/dead-letters/${a1.id}`)).status).toBe(404);
      expect(await redis.hexists(keys.webhookDisabled(), 'session:dl-a')).toBe(0);
      expect((await sys.api.get('/api/webhooks/dead-letters?session=dl-a')).body.total).toBe(1);
    });

    it('a replay call retried after a crash before it finished queues no second job', async () => {
      // The first call queued its job, then died before it forgot the dead letter: put the
      // state back as it was at that instant (dead letter listed, replay count not moved).
      await store.add(a1);
      await redis.del(keys.webhookReplayCount(a1.id));
      const again = await sys.api.post(`/api/webhooks/dead-letters/${a1.id}/replay`);
      expect([again.status, again.body.jobId]).toEqual([202, `${a1.id}.r1`]);
      expect((await jobsOf(a1.id)).map((j) => j.id)).toEqual([`${a1.id}.r1`]);
    });

    it('a delivery dead-lettered again after its replay is replayed under a new job id', async () => {
      await store.add(a1); // the replay failed too: the worker writes a new dead letter
      const listed = await sys.api.get(`/api/webhooks/dead-letters/${a1.id}`);
      expect(listed.body.replays).toBe(1);
      const res = await sys.api.post(`/api/webhooks/dead-letters/${a1.id}/replay`);
      expect([res.status, res.body.jobId]).toEqual([202, `${a1.id}.r2`]);
      expect((await jobsOf(a1.id)).map((j) => j.id).sort()).toEqual([`${a1.id}.r1`, `${a1.id}.r2`]);
    });

    it('replays every dead letter of one session, and no other', async () => {
      const s = [deadLetter('dl-s', t(10)), deadLetter('dl-s', t(11)), deadLetter('dl-s', t(12))];
      const other = deadLetter('dl-t', t(13));
      for (const l of [...s, other]) await store.add(l);
      const res = await sys.api.post('/api/webhooks/dead-letters/replay', { session: 'dl-s' });
      expect([res.status, res.body]).toEqual([202, { replayed: 3 }]);
      for (const l of s) {
        expect((await jobsOf(l.id)).map((j) => j.data.event.id)).toEqual([l.event.id]);
      }
      expect((await sys.api.get('/api/webhooks/dead-letters?session=dl-s')).body.total).toBe(0);
      expect((await sys.api.get('/api/webhooks/dead-letters?session=dl-t')).body.total).toBe(1);
    });

    it('unknown ids and sessions write nothing', async () => {
      await sys.api.get('/api/webhooks/dead-letters');
      const before = await keysOf(redis, sys.env.prefix, keys);
      const one = await sys.api.post('/api/webhooks/dead-letters/evt_unknown.session/replay');
      const all = await sys.api.post('/api/webhooks/dead-letters/replay', { session: 'nobody' });
      expect([one.status, one.body.error?.code]).toEqual([404, 'DEAD_LETTER_NOT_FOUND']);
      expect([all.status, all.body]).toEqual([202, { replayed: 0 }]);
      expect(await keysOf(redis, sys.env.prefix, keys)).toEqual(before);
    });
  });

  it('every route needs the API key', async () => {
    const routes: [string, string, unknown?][] = [
      ['PUT', '/api/sessions/gen/webhook', { url: 'https://x.example.com/' }],
      ['DELETE', '/api/sessions/gen/webhook'],
      ['GET', '/api/webhooks/dead-letters'],
      ['GET', '/api/webhooks/dead-letters/evt_1.session'],
      ['POST', '/api/webhooks/dead-letters/evt_1.session/replay', {}],
      ['POST', '/api/webhooks/dead-letters/replay', { session: 'gen' }],
    ];
    for (const [method, path, body] of routes) {
      const res = await fetch(`${sys.gateway.url}${path}`, {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      expect([method, path, res.status]).toEqual([method, path, 401]);
    }
    expect((await sessions.get('gen'))!.config.webhook?.url).toBe('https://hooks.example.com/gen');
  });
});

describe('webhook API while Redis is down', () => {
  let server: RedisServer;
  let sys: TestSystem;

  beforeAll(async () => {
    server = await RedisServer.start({ aof: false });
    sys = new TestSystem('whapi-down', { redisUrl: server.url });
    await sys.start([]);
  }, 60000);
  afterAll(async () => {
    await sys?.stop();
    await server?.stop();
  }, 30000);

  it('answers 503 on every webhook route, and serves again once Redis is back', async () => {
    expect(
      (await sys.api.createSession('down', { webhook: { url: 'https://x.example.com/' } })).status,
    ).toBe(201);
    await server.kill();
    const answers = [
      await sys.api.request('PUT', '/api/sessions/down/webhook', { url: 'https://y.example.com/' }),
      await sys.api.delete('/api/sessions/down/webhook'),
      await sys.api.get('/api/webhooks/dead-letters'),
      await sys.api.post('/api/webhooks/dead-letters/evt_1.session/replay'),
      await sys.api.post('/api/webhooks/dead-letters/replay', { session: 'down' }),
    ];
    expect(answers.map((r) => [r.status, r.body.error?.code])).toEqual(
      answers.map(() => [503, 'REDIS_UNAVAILABLE']),
    );
    await server.launch();
    await waitFor(
      'the gateway to reach Redis again',
      async () => (await sys.api.get('/api/webhooks/dead-letters')).status === 200,
    );
  });
});
