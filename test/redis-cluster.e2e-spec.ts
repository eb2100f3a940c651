import { spawnSync } from 'node:child_process';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { MAINTENANCE_QUEUE, MaintenanceJobName } from '@app/queue';
import { RedisCluster } from './support/redis-cluster';
import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';

/**
 * The send path on a real Redis Cluster (three masters): every queue and key is hash-tagged, so
 * sessions spread over the slots and everything still works.
 */
describe('on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let sys: TestSystem;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    sys = new TestSystem('cluster', {
      redisUrl: `redis://${cluster.nodes[0]}`,
      extra: { REDIS_CLUSTER_NODES: cluster.nodes.join(',') },
    });
    await sys.start(['wc-1', 'wc-2']);
  }, 90000);
  afterAll(async () => {
    await sys?.stop();
    cluster?.stop();
  }, 30000);

  it('accepts, queues and sends messages for sessions whose keys live on different masters', async () => {
    const sessions = ['alpha', 'bravo', 'charlie', 'delta'];
    for (const id of sessions) await sys.readySession(id, { simulator: { sendLatencyMs: 5 } });
    // The sessions' keys really are spread over the masters.
    const slotsOwners = new Set(
      sessions.map((id) => {
        const slot = Number(
          spawnSync(
            'redis-cli',
            ['-p', String(cluster.ports[0]), 'cluster', 'keyslot', `x:{${id}}`],
            { encoding: 'utf8' },
          ).stdout.trim(),
        );
        return Math.floor(slot / (16384 / 3));
      }),
    );
    expect(slotsOwners.size).toBeGreaterThan(1);

    const ids: string[] = [];
    for (const id of sessions) {
      for (let i = 0; i < 5; i++) {
        const r = await sys.api.post(
          `/api/sessions/${id}/messages`,
          { to: '15551230000', text: `${id} ${i}` },
          { 'idempotency-key': `${id}-${i}` },
        );
        expect(r.status).toBe(202);
        ids.push(r.body.id);
      }
      const bulk = await sys.api.post(`/api/sessions/${id}/messages/bulk`, {
        messages: [1, 2, 3].map((n) => ({
          to: '15551230000',
          text: `${id} bulk ${n}`,
          expiresAt: new Date(Date.now() + 600000).toISOString(),
        })),
      });
      expect(bulk.status).toBe(202);
      ids.push(...bulk.body.ids);
    }
    const replay = await sys.api.post(
      '/api/sessions/alpha/messages',
      { to: '15551230000', text: 'alpha 0' },
      { 'idempotency-key': 'alpha-0' },
    );
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    for (const id of ids) await sys.waitForMessage(id, ['sent', 'delivered', 'read'], 20000);
    for (const id of sessions) expect(await sys.outbox(id)).toHaveLength(8);
    const health = await sys.api.get('/api/health');
    expect(health.body).toMatchObject({ redis: true });
    expect((await sys.api.get('/api/workers')).body.workers).toHaveLength(2);
  }, 90000);

  it('runs the maintenance queue (BullModule, a Cluster connection) with one scheduler', async () => {
    const connection = new Cluster(
      cluster.nodes.map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) })),
    );
    const queue = new Queue(MAINTENANCE_QUEUE, { connection, prefix: sys.env.prefix });
    try {
      // One scheduler per maintenance job, however many workers registered them.
      expect((await queue.getJobSchedulers()).map((j) => j.key).sort()).toEqual(
        Object.values(MaintenanceJobName).sort(),
      );
      // Ticks complete (and are removed at once): the scheduler's job counter moves on.
      const id = async () =>
        Number(await connection.get(`${sys.env.prefix}:${MAINTENANCE_QUEUE}:id`));
      const start = await id();
      await waitFor('two more ticks', async () => (await id()) >= start + 2, 10000);
      expect(await queue.getJobCounts('failed')).toEqual({ failed: 0 });
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, 30000);
});
