import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { createRedis, EventLog, RedisKeys, waitForReady } from '@app/core';
import { deliveryIdOf, WEBHOOKS_QUEUE, webhookJobOptions, type WebhookJob } from '@app/queue';
import { DEFAULT_RATE_LIMIT, SessionStore } from '@app/session';
import {
  sharedRedisUrl,
  uniquePrefix,
  deleteByPrefix,
} from '../../../../test/support/redis-server';
import { waitFor } from '../../../../test/support/wait-for';
import type { WorkerConfig } from '../config/worker.config';
import { WebhookEndpoints } from './webhook-endpoints';
import {
  ensureRouterGroup,
  WEBHOOK_ROUTER_GROUP,
  WebhookRouterService,
} from './webhook-router.service';

const prefix = uniquePrefix('webhook-router');
const keys = new RedisKeys(prefix);
let redis: Redis;
let queue: Queue<WebhookJob>;
let events: EventLog;
let sessions: SessionStore;

const config = {
  workerId: 'w-1',
  redisUrl: sharedRedisUrl(),
  redisClusterNodes: [],
  webhooks: {
    global: {
      url: 'https://global.example.com/hook?token=abc',
      secret: `whsec_${randomBytes(32).toString('base64')}`,
      events: ['session.status'],
    },
    allowPrivate: false,
    timeoutMs: 1000,
    retryScheduleMs: [10, 20, 30],
    concurrency: 1,
    lockMs: 30000,
  },
} as unknown as WorkerConfig;

function router(): WebhookRouterService {
  return new WebhookRouterService(
    redis,
    keys,
    new WebhookEndpoints(sessions, config),
    queue,
    config,
    pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  );
}

beforeAll(async () => {
  redis = createRedis(sharedRedisUrl(), 'worker', `${prefix}-test`);
  await waitForReady(redis, 5000);
  queue = new Queue(WEBHOOKS_QUEUE, { connection: redis, prefix });
  events = new EventLog(redis, keys);
  sessions = new SessionStore(redis, keys, events);
  await sessions.create({
    id: 'shop',
    driver: 'simulator',
    rateLimit: DEFAULT_RATE_LIMIT,
    webhook: { url: 'https://shop.example.com/wa?key=k', secret: 'x', events: ['message.status'] },
    simulator: null,
    createdAt: new Date().toISOString(),
  });
});

afterAll(async () => {
  await queue.obliterate({ force: true });
  await queue.close();
  await deleteByPrefix(redis, prefix);
  await redis.quit();
});

const pending = async () =>
  ((await redis.xpending(keys.eventStream(), WEBHOOK_ROUTER_GROUP)) as [number])[0];

describe('WebhookRouterService (real Redis stream and BullMQ queue)', () => {
  it('routes events recorded before any router ran: one job per endpoint, by type', async () => {
    const status = EventLog.create('message.status', 'shop', { messageId: 'm1', status: 'sent' });
    const session = EventLog.create('session.status', 'shop', { status: 'ready' });
    const gone = EventLog.create('session.status', 'deleted-session', { status: 'stopped' });
    for (const e of [status, session, gone]) await events.append(e);

    const r = router();
    await r.onApplicationBootstrap();
    try {
      await waitFor('the jobs', async () => (await queue.count()) === 3);
      await waitFor('every entry acknowledged', async () => (await pending()) === 0);
    } finally {
      await r.onModuleDestroy();
    }
    const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed']);
    expect(jobs.map((j) => j.id).sort()).toEqual(
      [
        deliveryIdOf(status.id, 'session'), // the session's webhook takes message.status only
        deliveryIdOf(session.id, 'global'), // the global one session.status only
        deliveryIdOf(gone.id, 'global'), // a session that is gone has no endpoint of its own
      ].sort(),
    );
    const job = jobs.find((j) => j.id === deliveryIdOf(status.id, 'session'))!;
    expect(job.data).toEqual({
      deliveryId: job.id,
      event: status,
      endpoint: { kind: 'session', url: 'https://shop.example.com/wa' }, // no query string
    });
    expect(job.opts).toMatchObject({ attempts: 4, backoff: { type: 'webhook-schedule' } });
    expect(JSON.stringify(job.data)).not.toContain(config.webhooks.global!.secret);
  });

  it('re-routes what a router read and did not acknowledge, adding no second job', async () => {
    await ensureRouterGroup(redis, keys);
    const event = EventLog.create('message.status', 'shop', { messageId: 'm2', status: 'read' });
    await events.append(event);
    // A router with this worker id read the entry and queued its job, then died before XACK.
    await redis.xreadgroup(
      'GROUP',
      WEBHOOK_ROUTER_GROUP,
      config.workerId,
      'STREAMS',
      keys.eventStream(),
      '>',
    );
    const id = deliveryIdOf(event.id, 'session');
    const first = { deliveryId: id, event, endpoint: { kind: 'session' as const, url: 'first' } };
    await queue.add('deliver', first, { ...webhookJobOptions(4), jobId: id });
    expect(await pending()).toBe(1);
    const before = await queue.count();

    const r = router();
    await r.onApplicationBootstrap();
    try {
      await waitFor('the entry acknowledged', async () => (await pending()) === 0);
    } finally {
      await r.onModuleDestroy();
    }
    expect(await queue.count()).toBe(before);
    expect((await queue.getJob(id))?.data.endpoint.url).toBe('first');
  });
});
