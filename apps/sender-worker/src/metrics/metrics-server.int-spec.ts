import { request } from 'node:http';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createRedis, waitForReady } from '@app/core';
import { freePort, RedisServer } from '../../../../test/support/redis-server';
import { waitFor } from '../../../../test/support/wait-for';
import { MetricsServer } from './metrics-server';
import { redisAnswers } from './redis-readiness';

/** The error body every non-2xx answer of this server has. */
async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

const KEY = 'metrics-key-0123456789abcdef';

/**
 * The worker's probes against a real Redis of their own (it is killed and restarted here), over
 * real HTTP: what a kubelet sees.
 */
describe('worker probes (/healthz, /readyz) beside /metrics', () => {
  let redisServer: RedisServer;
  let redis: Redis;
  let server: MetricsServer;
  let base: string;

  beforeAll(async () => {
    redisServer = await RedisServer.start({ aof: false });
    // The worker's own kind of connection: it queues commands while Redis is down.
    redis = createRedis(redisServer.url, 'worker', 'probe-test');
    await waitForReady(redis, 5000);
    server = new MetricsServer(new Registry(), {
      host: '127.0.0.1',
      port: 0,
      apiKey: KEY,
      refresh: async () => undefined,
      ready: () => redisAnswers(redis),
    });
    base = `http://127.0.0.1:${await server.listen()}`;
  });

  afterAll(async () => {
    await server.close();
    redis.disconnect();
    await redisServer.stop();
  });

  it('answers /healthz and /readyz without a key, and still wants the key for /metrics', async () => {
    const live = await fetch(`${base}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });

    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', redis: 'up' });

    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const scrape = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(scrape.status).toBe(200);
  });

  it('never serves /metrics without the key under another spelling of its path', async () => {
    // Sent raw (fetch would normalise `/./` and `..`): what an attacker would try next to the
    // public probes on the same port.
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${base}${path}`, { method: 'GET' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    for (const path of [
      '/%6detrics',
      '/METRICS',
      '//metrics',
      '/./metrics',
      '/metrics/',
      '/healthz/../metrics',
      '/metrics;x',
      '/metrics%2F',
      '/healthz?/metrics',
    ]) {
      const { status, body } = await get(path);
      // Either refused, or a probe's own JSON answer: never the registry's text.
      // (The registry's text, even empty, is no JSON: a bypass would fail here.)
      if (status === 200) expect([path, JSON.parse(body).status]).toEqual([path, 'ok']);
    }
    // With the key, the exact path serves the registry (so the answers above are the rule).
    const scrape = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(scrape.status).toBe(200);
  });

  it('keeps 404 for other paths and 405 for other methods', async () => {
    const unknown = await fetch(`${base}/livez`);
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe('NOT_FOUND');
    const post = await fetch(`${base}/readyz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(await errorOf(post)).toEqual({
      code: 'METHOD_NOT_ALLOWED',
      message: 'Use GET /readyz',
    });
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('is not ready while its Redis is down, stays live, and is ready again once Redis is back', async () => {
    await redisServer.kill();
    const notReady = await waitFor('readyz to answer 503', async () => {
      const res = await fetch(`${base}/readyz`);
      return res.status === 503 ? res : null;
    });
    expect(await errorOf(notReady)).toEqual({
      code: 'SERVICE_UNAVAILABLE',
      message: 'Redis does not answer',
    });
    // Liveness never depends on Redis: an outage must not restart every worker.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    await redisServer.launch();
    await waitFor(
      'readyz to answer 200 again',
      async () => (await fetch(`${base}/readyz`)).status === 200,
    );
  });

  it('is not ready when Redis never answered (nothing listens on its port)', async () => {
    const nowhere = createRedis(`redis://127.0.0.1:${await freePort()}`, 'worker', 'probe-none');
    nowhere.on('error', () => undefined);
    const lonely = new MetricsServer(new Registry(), {
      host: '127.0.0.1',
      port: 0,
      refresh: async () => undefined,
      ready: () => redisAnswers(nowhere),
    });
    const port = await lonely.listen();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(res.status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      await lonely.close();
      nowhere.disconnect();
    }
  });

  it('counts a PING that does not come back in time as no answer', async () => {
    // A Redis that accepts the connection but does not reply (CLIENT PAUSE holds every client).
    const admin = createRedis(redisServer.url, 'worker', 'probe-admin');
    await waitForReady(admin, 5000);
    await waitForReady(redis, 10000);
    // Long enough for both checks below (a 200 ms and a 1 s PING); the pause holds UNPAUSE too.
    await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
    expect(await redisAnswers(redis, 200)).toBe(false);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    await waitFor('Redis to answer once the pause ends', () => redisAnswers(redis));
    admin.disconnect();
  });
});
