import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisSentinelSet } from './support/redis-sentinel';
import { TestSystem } from './support/system';
import { exactlyOnce } from './support/exactly-once';
import { waitFor } from './support/wait-for';

/**
 * REDIS_URL as a Sentinel URL (CONTRACT: "the one Redis (or Redis Cluster / Sentinel URL)"):
 * the gateway and a worker find the primary through a real Sentinel, send through it, and
 * follow a failover to the replica without a restart. Every accepted message is sent once.
 */
describe('Redis behind Sentinel', () => {
  let set: RedisSentinelSet;
  let sys: TestSystem;

  beforeAll(async () => {
    set = await RedisSentinelSet.start();
    sys = await new TestSystem('sentinel', { redisUrl: set.url }).start(['worker-s']);
  }, 60000);

  afterAll(async () => {
    await sys?.stop();
    await set?.stop();
  }, 30000);

  /** POSTs until answered 202, with one Idempotency-Key: a 503 during the switch is retried. */
  async function send(text: string): Promise<string> {
    const key = randomUUID();
    return waitFor(
      `"${text}" accepted`,
      async () => {
        const res = await sys.api.post(
          '/api/sessions/sentinel-s/messages',
          { to: '15551230000', text },
          { 'Idempotency-Key': key },
        );
        if (res.status === 202) return res.body.id as string;
        expect([503, 409]).toContain(res.status);
        return null;
      },
      30000,
      100,
    );
  }

  it('sends through the primary the Sentinel names, and follows a failover to the replica', async () => {
    const oldPrimary = await set.primaryPort();
    expect(oldPrimary).toBe(set.ports.primary);
    await sys.readySession('sentinel-s', { simulator: { linkAfterMs: 100, sendLatencyMs: 5 } });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await send(`before ${i}`));
    await waitFor(
      'the first messages sent',
      async () => (await sys.outbox('sentinel-s')).length >= 20,
    );

    // The records were written to the primary, and replicated.
    const primary = new Redis({ host: '127.0.0.1', port: set.ports.primary });
    const replica = new Redis({ host: '127.0.0.1', port: set.ports.replica });
    try {
      const keys = await primary.keys(`${sys.env.prefix}:*`);
      expect(keys.length).toBeGreaterThan(0);
      await primary.call('WAIT', '1', '5000');

      await set.sentinelCommand('FAILOVER', RedisSentinelSet.MASTER);
      await waitFor(
        'the replica promoted',
        async () => (await set.primaryPort()) === set.ports.replica,
        20000,
        100,
      );
      await waitFor(
        'the old primary demoted',
        async () => (await primary.role())[0] === 'slave',
        20000,
        100,
      );

      for (let i = 0; i < 20; i++) ids.push(await send(`after ${i}`));
      await waitFor(
        'every message sent',
        async () => (await sys.outbox('sentinel-s')).length >= ids.length,
        30000,
        100,
      );
      const outbox = await sys.outbox('sentinel-s');
      expect(
        exactlyOnce(
          outbox.map((o) => o.messageId),
          ids,
        ),
      ).toEqual({ lost: [], twice: [] });
      // The new messages live on the promoted replica: the apps write to it now.
      const last = await replica.keys(`${sys.env.prefix}:msg:{${ids[ids.length - 1]}}`);
      expect(last.length).toBe(1);
      expect((await replica.role())[0]).toBe('master');
      // Neither app was restarted to get there.
      expect(sys.workers.get('worker-s')!.running).toBe(true);
      expect((await fetch(`${sys.gateway.url}/readyz`)).status).toBe(200);
    } finally {
      primary.disconnect();
      replica.disconnect();
    }
  }, 120000);
});
