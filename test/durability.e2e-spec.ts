import { RedisServer } from './support/redis-server';
import { TestSystem } from './support/system';
import { exactlyOnce } from './support/exactly-once';
import { waitFor } from './support/wait-for';

/**
 * What users buy: a message answered 202 is sent, once, whatever crashes. Real processes,
 * SIGKILLed; a private redis-server (AOF always) that is killed and restarted.
 */
describe('durability', () => {
  let redis: RedisServer;
  let sys: TestSystem;

  beforeAll(async () => {
    redis = await RedisServer.start({ aof: true });
    sys = await new TestSystem('durable', { redisUrl: redis.url }).start(['worker-1']);
  }, 60000);

  afterAll(async () => {
    await sys?.stop();
    await redis?.stop();
  }, 30000);

  it('sends every accepted message exactly once when the worker is SIGKILLed mid-stream', async () => {
    await sys.readySession('k-stream', { simulator: { sendLatencyMs: 15 } });
    const ids: string[] = [];
    for (let i = 0; i < 150; i++) {
      const res = await sys.api.post('/api/sessions/k-stream/messages', {
        to: '15551230000',
        text: `m${i}`,
      });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    // Kill it while it is sending (some sent, some not).
    await waitFor('some messages sent', async () => (await sys.outbox('k-stream')).length >= 20);
    await sys.workers.get('worker-1')!.kill();
    const sentBeforeKill = (await sys.outbox('k-stream')).length;
    expect(sentBeforeKill).toBeLessThan(ids.length);

    // A new worker adopts the session once the dead one's lease expires.
    sys.startWorker('worker-2');
    await waitFor(
      'every message sent',
      async () => (await sys.outbox('k-stream')).length >= ids.length,
      40000,
      100,
    );
    const outbox = await sys.outbox('k-stream');
    expect(
      exactlyOnce(
        outbox.map((o) => o.messageId),
        ids,
      ),
    ).toEqual({ lost: [], twice: [] });
    // In the order accepted (CONTRACT), the killed worker's message in flight included: the new
    // owner waits for it to come back to the head of the queue before taking the next one.
    expect(outbox.map((o) => o.messageId)).toEqual(ids);
    const session = await sys.waitForStatus('k-stream', 'ready');
    expect(session.worker).toBe('worker-2');
    for (const id of ids.slice(-5)) {
      const m = await sys.waitForMessage(id, ['sent', 'delivered', 'read']);
      expect(m.attempts).toBeGreaterThanOrEqual(1);
    }
  }, 90000);

  it('answers 503 at once while Redis is down, and keeps every accepted message across a Redis crash', async () => {
    await sys.readySession('k-redis', { simulator: { linkAfterMs: 100 } });
    const before = await sys.api.post('/api/sessions/k-redis/messages', {
      to: '15551230000',
      text: 'before the crash',
    });
    expect(before.status).toBe(202);

    await redis.kill();
    const started = Date.now();
    const during = await sys.api.post('/api/sessions/k-redis/messages', {
      to: '15551230000',
      text: 'during',
    });
    const tookMs = Date.now() - started;
    expect(during.status).toBe(503);
    expect(during.body.error.code).toBe('REDIS_UNAVAILABLE');
    expect(tookMs).toBeLessThan(3000);
    const ready = await fetch(`${sys.gateway.url}/readyz`);
    expect(ready.status).toBe(503);

    await redis.launch();
    const after = await waitFor(
      'the gateway to accept again',
      async () => {
        const r = await sys.api.post('/api/sessions/k-redis/messages', {
          to: '15551230000',
          text: 'after the crash',
        });
        return r.status === 202 ? r : null;
      },
      20000,
      200,
    );
    for (const id of [before.body.id, after.body.id]) {
      await sys.waitForMessage(id, ['sent', 'delivered', 'read'], 30000);
    }
    const texts = (await sys.outbox('k-redis')).map((o) => o.text);
    expect(texts.filter((t) => t === 'before the crash')).toHaveLength(1);
    expect(texts.filter((t) => t === 'after the crash')).toHaveLength(1);
    expect(texts).not.toContain('during');
  }, 90000);

  it('hands sessions over at once on SIGTERM, and exits 0', async () => {
    await sys.readySession('k-term');
    const owner = (await sys.api.get('/api/sessions/k-term')).body.worker as string;
    const next = owner === 'worker-3' ? 'worker-4' : 'worker-3';
    sys.startWorker(next);
    await waitFor('the new worker to heartbeat', async () => true);
    const pending = await sys.api.post('/api/sessions/k-term/messages', {
      to: '15551230000',
      text: 'across the hand-over',
      sendAt: new Date(Date.now() + 1000).toISOString(),
    });
    const code = await sys.workers.get(owner)!.stop();
    expect(code).toBe(0);
    const moved = await waitFor(
      'another worker to own k-term',
      async () => {
        const s = await sys.api.get('/api/sessions/k-term');
        return s.body.worker && s.body.worker !== owner && s.body.status === 'ready'
          ? s.body
          : null;
      },
      10000,
    );
    expect(moved.worker).toBe(next);
    await sys.waitForMessage(pending.body.id, ['sent', 'delivered', 'read']);
  }, 60000);
});
