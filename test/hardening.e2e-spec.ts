import fc from 'fast-check';
import { Redis } from 'ioredis';
import { TestSystem, TEST_API_KEY } from './support/system';
import { rawRequest, redisSnapshot } from './support/raw-http';
import { gatewayRoutes } from './support/routes';
import { waitFor } from './support/wait-for';

/** Issue 8, the gateway's points 2, 4, 5, 6, 8 and 19: a gateway alone (no worker needed). */
describe('gateway hardening (issue 8)', () => {
  const sys = new TestSystem('harden', {
    extra: { MAX_QUEUED_PER_SESSION: '3', MEDIA_MAX_BYTES: '2048', MAX_SCHEDULE_DAYS: '30' },
  });
  let redis: Redis;
  const key = { 'x-api-key': TEST_API_KEY };

  beforeAll(async () => {
    await sys.start([]);
    redis = new Redis(sys.env.redisUrl);
    expect((await sys.api.createSession('known')).status).toBe(201);
  }, 60000);
  afterAll(async () => {
    await redis?.quit();
    await sys.stop();
  }, 30000);

  it('point 2: requests about unknown ids write nothing to Redis', async () => {
    const prefix = sys.env.prefix;
    const skip = (k: string) => k.startsWith(`${prefix}:throttle:`);
    const before = await redisSnapshot(redis, prefix, skip);
    const msg = { to: '15551234567', text: 'x' };
    const battery: [string, string, unknown?][] = [
      ['GET', '/api/sessions/ghost-1'],
      ['GET', '/api/sessions/ghost-2/qr'],
      ['POST', '/api/sessions/ghost-3/recover', {}],
      ['DELETE', '/api/sessions/ghost-4'],
      ['DELETE', '/api/sessions/ghost-4b?logout=true'],
      ['POST', '/api/sessions/ghost-5/pairing-code', { phone: '+15551234567' }],
      ['GET', '/api/sessions/ghost-6/contacts/15551234567'],
      ['GET', '/api/sessions/ghost-7/simulator/outbox'],
      ['POST', '/api/sessions/ghost-8/simulator/faults', { type: 'hang' }],
      ['POST', '/api/sessions/ghost-9/messages', msg],
      ['POST', '/api/sessions/ghost-10/messages/bulk', { messages: [msg] }],
      ['POST', '/api/clear-queue', { session: 'ghost-11' }],
      ['POST', '/api/recover-session', { session: 'ghost-12' }],
      ['GET', '/api/messages/msg_ghost'],
      ['DELETE', '/api/messages/msg_ghost'],
    ];
    for (const [method, path, body] of battery) {
      const res = await sys.api.request(method, path, body);
      expect([method, path, res.status, res.body?.error?.code]).toEqual([
        method,
        path,
        404,
        expect.stringMatching(/_NOT_FOUND$/),
      ]);
    }
    // With an Idempotency-Key too: the key is not kept for a refused request.
    const idem = await sys.api.post('/api/sessions/ghost-13/messages', msg, {
      'idempotency-key': 'ghost-key',
    });
    expect(idem.status).toBe(404);
    const after = await redisSnapshot(redis, prefix, skip);
    expect([...after.keys()]).toEqual([...before.keys()]);
  });

  it('point 4: sendAt and expiresAt are RFC 3339 with a zone, sendAt within MAX_SCHEDULE_DAYS', async () => {
    const post = (extra: Record<string, unknown>) =>
      sys.api.post('/api/sessions/known/messages', { to: '15551234567', text: 'x', ...extra });
    for (const bad of [
      '2030-W01-1',
      '20300101',
      '2030-01-01T10',
      '2030-01-01T10:00:00',
      '2030-02-30T10:00:00Z',
      '2030-01-01T24:00:00Z',
      '2030-01-01 10:00:00Z',
    ]) {
      for (const field of ['sendAt', 'expiresAt']) {
        const res = await post({ [field]: bad });
        expect([field, bad, res.status, res.body.error.code]).toEqual([
          field,
          bad,
          400,
          'VALIDATION_FAILED',
        ]);
        expect(res.body.error.message).toContain(field);
      }
    }
    const far = await post({ sendAt: new Date(Date.now() + 31 * 86400000).toISOString() });
    expect(far.status).toBe(400);
    expect(far.body.error.message).toMatch(/sendAt.*MAX_SCHEDULE_DAYS/);
    const inZone = await post({
      // 60 days ahead, written with a +02:00 offset (next year's 1 January is within 30 days
      // in December: a calendar date here would pass on some days of the year).
      sendAt: new Date(Date.now() + 60 * 86400000).toISOString().replace('Z', '+02:00'),
    });
    expect(inZone.status).toBe(400); // more than 30 days ahead
    const soon = new Date(Date.now() + 86400000);
    const offset = soon.toISOString().replace('Z', '+00:00');
    const ok = await post({ sendAt: offset });
    expect(ok.status).toBe(202);
    const record = await sys.api.get(`/api/messages/${ok.body.id}`);
    expect(Date.parse(record.body.sendAt)).toBe(soon.getTime());
    await sys.api.delete(`/api/messages/${ok.body.id}`);
  });

  it('point 5: inline media above MEDIA_MAX_BYTES is 413 MEDIA_TOO_LARGE and nothing is stored', async () => {
    const counts = async () => (await sys.api.get('/api/sessions/known')).body.queue;
    const before = await counts();
    const big = Buffer.alloc(2049, 7).toString('base64');
    const res = await sys.api.post('/api/sessions/known/messages', {
      to: '15551234567',
      media: { base64: big, mimetype: 'image/png' },
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('MEDIA_TOO_LARGE');
    const bulk = await sys.api.post('/api/sessions/known/messages/bulk', {
      messages: [
        { to: '15551234567', text: 'fine' },
        { to: '15551234567', media: { base64: big, mimetype: 'image/png' } },
      ],
    });
    expect(bulk.status).toBe(413);
    expect(bulk.body.error.message).toContain('messages[1]');
    expect(await counts()).toEqual(before);
    const fits = await sys.api.post('/api/sessions/known/messages', {
      to: '15551234567',
      media: { base64: Buffer.alloc(2048, 7).toString('base64'), mimetype: 'image/png' },
    });
    expect(fits.status).toBe(202);
    await sys.api.delete(`/api/messages/${fits.body.id}`);
  });

  it('point 6: webhook URLs on local, private or metadata addresses are refused at creation', async () => {
    const refused = [
      'http://127.0.0.1:9000/hook',
      'http://localhost/hook',
      'http://hooks.localhost/x',
      'http://10.0.0.5/hook',
      'http://192.168.1.1/hook',
      'http://100.64.1.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/hook',
      'http://[fe80::1]/hook',
      'http://[fd00::1]/hook',
      'http://[::ffff:169.254.169.254]/hook',
      'http://0.0.0.0/hook',
      'http://2130706433/hook',
      'http://0x7f000001/hook',
      'http://0177.0.0.1/hook',
      'http://[ff02::1]/hook',
    ];
    for (const url of refused) {
      const res = await sys.api.createSession('hooked', { webhook: { url } });
      expect([url, res.status, res.body.error?.code]).toEqual([
        url,
        400,
        'WEBHOOK_URL_NOT_ALLOWED',
      ]);
    }
    expect((await sys.api.get('/api/sessions/hooked')).status).toBe(404);
    const ok = await sys.api.createSession('hooked', {
      webhook: { url: 'https://hooks.example.com/wa' },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.webhook).toMatchObject({ url: 'https://hooks.example.com/wa', signed: true });
  });

  it('point 8: a replay gets the stored answer whatever the clock, the queue or the session say now', async () => {
    expect((await sys.api.createSession('replay')).status).toBe(201);
    const body = {
      to: '15551234567',
      text: 'expiring',
      expiresAt: new Date(Date.now() + 2000).toISOString(),
    };
    const first = await sys.api.post('/api/sessions/replay/messages', body, {
      'idempotency-key': 'k-expiring',
    });
    expect(first.status).toBe(202);
    await waitFor('expiresAt to pass', () => Date.now() > Date.parse(body.expiresAt) + 50, 5000);
    const late = await sys.api.post('/api/sessions/replay/messages', body, {
      'idempotency-key': 'k-expiring',
    });
    expect([late.status, late.body.id]).toEqual([202, first.body.id]);
    expect(late.headers.get('idempotent-replayed')).toBe('true');

    // Fill the queue to MAX_QUEUED_PER_SESSION (3): one accepted above, two more.
    const second = { to: '15551234567', text: 'second' };
    const accepted = await sys.api.post('/api/sessions/replay/messages', second, {
      'idempotency-key': 'k-second',
    });
    expect(accepted.status).toBe(202);
    await sys.api.post('/api/sessions/replay/messages', { to: '15551234567', text: 'third' });
    await waitFor('the queue to be full', async () => {
      const r = await sys.api.post('/api/sessions/replay/messages', {
        to: '15551234567',
        text: 'y',
      });
      return r.status === 429 && r.body.error.code === 'QUEUE_FULL';
    });
    const full = await sys.api.post('/api/sessions/replay/messages', second, {
      'idempotency-key': 'k-second',
    });
    expect([full.status, full.body.id]).toEqual([202, accepted.body.id]);
    const other = await sys.api.post(
      '/api/sessions/replay/messages',
      { ...second, text: 'changed' },
      { 'idempotency-key': 'k-second' },
    );
    expect(other.status).toBe(422);

    expect((await sys.api.delete('/api/sessions/replay')).status).toBe(202);
    const gone = await sys.api.post('/api/sessions/replay/messages', second, {
      'idempotency-key': 'k-second',
    });
    expect([gone.status, gone.body.id]).toEqual([202, accepted.body.id]);
    expect(gone.headers.get('idempotent-replayed')).toBe('true');
  });

  describe('point 19: malformed input never reaches 500, and every answer has the error shape', () => {
    const shaped = (res: { status: number; json: any }) =>
      res.json?.error &&
      typeof res.json.error.code === 'string' &&
      typeof res.json.error.message === 'string';

    it('refuses deep nesting, bad percent-encoding, arrays for objects and other charsets', async () => {
      const deep = async (path: string, text: string) =>
        rawRequest(sys.gateway.url, 'POST', path, {
          headers: { ...key, 'content-type': 'application/json' },
          body: text,
        });
      for (const path of routesWithBody()) {
        for (const text of [
          '['.repeat(10000),
          `{"id":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
          `${'['.repeat(40)}${']'.repeat(40)}`,
        ]) {
          const res = await deep(path, text);
          expect([path, res.status, res.json?.error?.code]).toEqual([path, 400, 'BODY_TOO_DEEP']);
        }
      }
      for (const path of ['/api/sessions/%ff%fe', '/api/%zz', '/api/sessions/%', '/%E0%A4%A']) {
        const res = await rawRequest(sys.gateway.url, 'GET', path, { headers: key });
        expect([path, res.status, shaped(res)]).toEqual([path, 400, true]);
      }
      for (const field of ['rateLimit', 'webhook', 'simulator']) {
        const res = await sys.api.createSession(`arr-${field.toLowerCase()}`, { [field]: [] });
        expect([field, res.status, res.body.error.code]).toEqual([field, 400, 'VALIDATION_FAILED']);
      }
      const media = await sys.api.post('/api/sessions/known/messages', {
        to: '15551234567',
        media: [],
      });
      expect(media.status).toBe(400);
      for (const charset of ['utf-16', 'UTF-16LE', 'iso-8859-1', 'latin1']) {
        const res = await rawRequest(sys.gateway.url, 'POST', '/api/sessions', {
          headers: { ...key, 'content-type': `application/json; charset=${charset}` },
          body: JSON.stringify({ id: 'charset-x' }),
        });
        expect([charset, res.status, res.json?.error?.code]).toEqual([
          charset,
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        ]);
      }
      const utf8 = await rawRequest(sys.gateway.url, 'POST', '/api/sessions', {
        headers: { ...key, 'content-type': 'application/json; charset=UTF-8' },
        body: JSON.stringify({ id: 'charset-ok', driver: 'simulator' }),
      });
      expect(utf8.status).toBe(201);
    });

    /** Concrete paths of every route that takes a body, from the router. */
    function routesWithBody(): string[] {
      return gatewayRoutes()
        .filter((r) => ['POST', 'PUT', 'PATCH'].includes(r.method))
        .map((r) => r.path.replace(':id', 'known').replace(':phone', '15551234567'));
    }

    it('fuzz: random bodies, paths and content types on every route answer < 500 in the shape', async () => {
      const routes = gatewayRoutes();
      const json = fc.jsonValue({ maxDepth: 6 });
      const segment = fc.oneof(
        fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
        fc.constantFrom('%', '%f', '%ff', '%zz', '%00', '%2e%2e', '..', '.', '%2f', ';x', '%C0%AF'),
        fc.stringMatching(/^[a-z0-9_-]{1,10}$/),
      );
      const contentType = fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/json; charset=utf-16',
        'application/JSON',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json-patch+json',
        '',
      );
      const body = fc.oneof(
        json.map((v) => JSON.stringify(v)),
        fc.string({ maxLength: 200 }),
        fc.constantFrom('', '{', '[', '{"id":', 'null', '"x"', '{"__proto__":{"x":1}}'),
      );
      let answered = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...routes),
          fc.array(segment, { minLength: 1, maxLength: 3 }),
          body,
          contentType,
          async (route, segs, text, type) => {
            let i = 0;
            const path = route.path.replace(/:\w+/g, () => segs[i++ % segs.length]);
            const res = await rawRequest(sys.gateway.url, route.method, path, {
              headers: { ...key, ...(type ? { 'content-type': type } : {}) },
              body: ['GET', 'DELETE'].includes(route.method) ? undefined : text,
            });
            answered++;
            if (res.status >= 500) throw new Error(`${route.method} ${path} -> ${res.text}`);
            if (res.status >= 400 && !shaped(res)) {
              throw new Error(`${route.method} ${path} -> ${res.status} ${res.text}`);
            }
          },
        ),
        { numRuns: 400, seed: 8 },
      );
      expect(answered).toBeGreaterThanOrEqual(400);
    }, 120000);
  });
});
