import { Redis } from 'ioredis';
import { RedisServer } from './support/redis-server';
import { TestSystem, TEST_API_KEY } from './support/system';
import { waitFor } from './support/wait-for';

/**
 * Issue 8 point 3: ioredis attaches the failed command (arguments included) to its errors, and
 * the logs once carried them: message text, media, webhook secrets. Redis is made to refuse
 * writes (maxmemory 1, noeviction); the gateway answers 503 and neither process logs content.
 */
describe('secrets and content stay out of the logs when Redis refuses writes', () => {
  let server: RedisServer;
  let sys: TestSystem;
  let admin: Redis;

  beforeAll(async () => {
    server = await RedisServer.start({ aof: false });
    sys = new TestSystem('logs', { redisUrl: server.url });
    await sys.start(['worker-logs']);
    admin = new Redis(server.url);
  }, 60000);
  afterAll(async () => {
    await admin?.quit();
    await sys?.stop();
    await server?.stop();
  }, 30000);

  it('answers 503 REDIS_FULL and logs neither text, media, secrets nor the API key', async () => {
    const before = `whsec_${Buffer.from('before-7d1e4a-0123456789abcdef').toString('base64')}`;
    await sys.readySession('full', {
      webhook: { url: 'https://hooks.example.com/x', secret: before },
    });
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');

    const text = 'distinctive-text-5c2b9e41';
    const base64 = Buffer.from('distinctive-media-8f3a0c77-'.repeat(20)).toString('base64');
    // A valid Standard Webhooks secret, so the request gets as far as Redis.
    const secret = `whsec_${Buffer.from('during-0b6d2f98-0123456789abcdef').toString('base64')}`;
    const answers = [
      await sys.api.post('/api/sessions/full/messages', { to: '15551234567', text }),
      await sys.api.post('/api/sessions/full/messages', {
        to: '15551234567',
        media: { base64, mimetype: 'image/png', caption: text },
      }),
      await sys.api.post('/api/sessions/full/messages/bulk', {
        messages: [{ to: '15551234567', text }],
      }),
      await sys.api.post(
        '/api/sessions/full/messages',
        { to: '15551234567', text },
        { 'idempotency-key': 'idem-during-oom' },
      ),
      await sys.api.createSession('full-2', {
        webhook: { url: 'https://hooks.example.com/y', secret },
      }),
    ];
    for (const res of answers) {
      expect([res.status, res.body.error?.code, typeof res.body.error?.message]).toEqual([
        503,
        'REDIS_FULL',
        'string',
      ]);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // The failures were logged (so the grep below looks at real error lines)...
    await waitFor('the gateway to log the refused writes', () =>
      sys.gateway.proc.logs().includes('OOM command not allowed'),
    );
    // ...and the worker, whose own writes (heartbeats, leases) are refused too, logs them.
    const worker = sys.workers.get('worker-logs')!;
    await waitFor(
      'the worker to meet the refused writes',
      () => worker.logs().includes('OOM'),
      20000,
    );

    await admin.config('SET', 'maxmemory', '0');
    const logs = `${sys.gateway.proc.logs()}\n${worker.logs()}`;
    for (const needle of [
      text,
      base64,
      base64.slice(0, 40),
      secret,
      before,
      TEST_API_KEY,
      'idem-during-oom',
    ]) {
      expect([needle, logs.includes(needle)]).toEqual([needle, false]);
    }
  }, 90000);
});
