import { startWorker, type AppProcess } from './support/processes';
import { freePort, RedisServer, uniquePrefix } from './support/redis-server';
import { waitFor } from './support/wait-for';

/**
 * A worker started while Redis is down answers its probes (a kubelet's liveness must not restart
 * a worker for an outage it is built to wait out): /healthz 200 at once, /readyz 503 until Redis
 * answers, then 200. Regression: the probe server used to start after bootstrap hooks that wait
 * for Redis, so it never listened during an outage at start.
 */
describe('worker probes with Redis down at start', () => {
  let redis: RedisServer;
  let worker: AppProcess;

  afterAll(async () => {
    await worker?.kill();
    await redis?.stop();
  });

  it('answers /healthz at once and /readyz once Redis is back', async () => {
    redis = await RedisServer.start({ aof: false });
    await redis.kill(); // its port is known, nothing listens on it
    const port = await freePort();
    worker = startWorker(
      {
        redisUrl: redis.url,
        prefix: uniquePrefix('probes'),
        apiKey: 'unused-0123456789abcdef',
        extra: { WORKER_METRICS_PORT: String(port) },
      },
      'probe-worker',
    );
    const url = (path: string) => `http://127.0.0.1:${port}${path}`;
    const status = async (path: string) => {
      try {
        return (await fetch(url(path))).status;
      } catch {
        return 0; // not listening (yet)
      }
    };

    await waitFor(
      '/healthz 200 with Redis down',
      async () => (await status('/healthz')) === 200,
      30000,
      200,
    );
    expect(await status('/readyz')).toBe(503);
    expect(worker.running).toBe(true);

    await redis.launch();
    await waitFor(
      '/readyz 200 once Redis answers',
      async () => (await status('/readyz')) === 200,
      30000,
      200,
    );
    expect(await status('/healthz')).toBe(200);
  });
});
