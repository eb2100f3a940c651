import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { createRedis, EventLog, RedisKeys, waitForReady, type GatewayEvent } from '@app/core';
import {
  deliveryIdOf,
  WebhookDeadLetterStore,
  webhookReplayJobId,
  type WebhookAttempt,
  type WebhookJob,
} from '@app/queue';
import { DEFAULT_RATE_LIMIT, SessionStore, type WebhookConfig } from '@app/session';
import {
  sharedRedisUrl,
  uniquePrefix,
  deleteByPrefix,
} from '../../../../test/support/redis-server';
import {
  verifyStandardWebhook,
  WebhookReceiver,
  type ReceiverAnswer,
} from '../../../../test/support/webhook-receiver';
import type { WorkerConfig } from '../config/worker.config';
import type { WebhookSettings } from '../config/webhook.config';
import { WebhookDeliveryService, type DeliveryRun } from './webhook-delivery.service';
import { WebhookEndpoints } from './webhook-endpoints';
import { postWebhook } from './webhook-poster';

const prefix = uniquePrefix('webhook-delivery');
const keys = new RedisKeys(prefix);
const secret = `whsec_${randomBytes(32).toString('base64')}`;
let redis: Redis;
let sessions: SessionStore;
let deadLetters: WebhookDeadLetterStore;
const receiver = new WebhookReceiver();

beforeAll(async () => {
  redis = createRedis(sharedRedisUrl(), 'worker', `${prefix}-test`);
  await waitForReady(redis, 5000);
  sessions = new SessionStore(redis, keys, new EventLog(redis, keys));
  deadLetters = new WebhookDeadLetterStore(redis, keys, 3600);
  await receiver.start();
});

afterAll(async () => {
  await receiver.stop();
  await deleteByPrefix(redis, prefix);
  await redis.quit();
});

beforeEach(() => {
  receiver.received.length = 0;
  receiver.answer = () => ({ status: 204 });
});

function service(overrides: Partial<WebhookSettings> = {}): WebhookDeliveryService {
  const config = {
    webhooks: {
      global: null,
      allowPrivate: true,
      timeoutMs: 2000,
      retryScheduleMs: [10, 20],
      concurrency: 1,
      lockMs: 30000,
      ...overrides,
    },
  } as unknown as WorkerConfig;
  return new WebhookDeliveryService(
    redis,
    keys,
    new WebhookEndpoints(sessions, config),
    deadLetters,
    config,
    pino({ level: 'silent' }),
  );
}

let sessionCounter = 0;
async function sessionWith(webhook: WebhookConfig | null): Promise<string> {
  const id = `s${sessionCounter++}`;
  await sessions.create({
    id,
    driver: 'simulator',
    rateLimit: DEFAULT_RATE_LIMIT,
    webhook,
    simulator: null,
    createdAt: new Date().toISOString(),
  });
  return id;
}

/** A run of a delivery job, recording what the service keeps on it. */
function run(
  session: string,
  opts: { attemptsMade?: number; maxAttempts?: number; jobId?: string; url?: string } = {},
): DeliveryRun & { saved: WebhookAttempt[][] } {
  const event: GatewayEvent = EventLog.create('message.status', session, {
    messageId: 'm1',
    status: 'sent',
    previous: 'sending',
  });
  const deliveryId = deliveryIdOf(event.id, 'session');
  const data: WebhookJob = {
    deliveryId,
    event,
    endpoint: { kind: 'session', url: opts.url ?? 'http://stale.invalid/old' },
  };
  const saved: WebhookAttempt[][] = [];
  return {
    id: opts.jobId ?? deliveryId,
    data,
    attemptsMade: opts.attemptsMade ?? 0,
    maxAttempts: opts.maxAttempts ?? 3,
    saved,
    saveAttempts: async (attempts) => {
      saved.push(attempts);
      data.attempts = attempts;
    },
  };
}

describe('WebhookDeliveryService (real HTTP receiver, real Redis)', () => {
  it('POSTs the event JSON signed as Standard Webhooks say (checked with a plain HMAC)', async () => {
    const session = await sessionWith({ url: receiver.url(), secret });
    const r = run(session);
    await expect(service().deliver(r)).resolves.toEqual({ kind: 'delivered', status: 204 });
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0];
    expect(JSON.parse(got.body)).toEqual(r.data.event);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['user-agent']).toMatch(/^wa-gateway-webhooks\//);
    expect(got.headers['webhook-id']).toBe(r.data.event.id);
    expect(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(
      300,
    );
    expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(verifyStandardWebhook(secret, got)).toBe(true);
    // A wrong secret, a changed body: the independent check fails.
    expect(verifyStandardWebhook(`whsec_${randomBytes(32).toString('base64')}`, got)).toBe(false);
    expect(verifyStandardWebhook(secret, { ...got, body: got.body.replace('sent', 'read') })).toBe(
      false,
    );
  });

  it('never posts again once a 2xx came back (the delivered marker)', async () => {
    const session = await sessionWith({ url: receiver.url(), secret });
    const r = run(session);
    await service().deliver(r);
    // A retry, or another worker taking a stalled run over, finds the marker.
    await expect(service().deliver(r)).resolves.toEqual({ kind: 'already-delivered' });
    expect(receiver.received).toHaveLength(1);
    expect(await redis.ttl(keys.webhookDelivered(r.id))).toBeGreaterThan(5 * 3600);
  });

  it('delivers a replay (its own job id) whether or not the original has a marker', async () => {
    const session = await sessionWith({ url: receiver.url(), secret });
    const original = run(session);
    const replay = { ...run(session), data: original.data, id: '' };
    replay.id = webhookReplayJobId(original.data.deliveryId, 1);
    await expect(service().deliver(replay)).resolves.toMatchObject({ kind: 'delivered' });
    await redis.set(keys.webhookDelivered(original.id), '1');
    const second = { ...replay, id: webhookReplayJobId(original.data.deliveryId, 2) };
    await expect(service().deliver(second)).resolves.toMatchObject({ kind: 'delivered' });
    // Same event, same webhook-id each time.
    expect(receiver.received.map((x) => x.headers['webhook-id'])).toEqual([
      original.data.event.id,
      original.data.event.id,
    ]);
  });

  it('uses the endpoint as configured now, not the URL in the job', async () => {
    const session = await sessionWith({ url: receiver.url('/current'), secret });
    await service().deliver(run(session, { url: 'http://127.0.0.1:1/stale' }));
    expect(receiver.received).toHaveLength(1);
  });

  it('drops a delivery whose session (or webhook) is gone', async () => {
    await expect(service().deliver(run('no-such-session'))).resolves.toEqual({ kind: 'dropped' });
    const unhooked = await sessionWith(null);
    await expect(service().deliver(run(unhooked))).resolves.toEqual({ kind: 'dropped' });
  });

  it('records a failed attempt (status, error, duration; no body) and asks for a retry', async () => {
    receiver.answer = () => ({ status: 500 });
    const session = await sessionWith({ url: receiver.url(), secret });
    const r = run(session);
    const outcome = await service().deliver(r);
    expect(outcome).toEqual({ kind: 'retry', error: 'answered 500', retryAfterMs: null });
    expect(r.saved.at(-1)).toEqual([
      {
        at: expect.any(String),
        status: 500,
        error: 'answered 500',
        durationMs: expect.any(Number),
      },
    ]);
  });

  it("passes on a 429's or 503's Retry-After, not a 500's", async () => {
    const session = await sessionWith({ url: receiver.url(), secret });
    const answers: ReceiverAnswer[] = [
      { status: 503, headers: { 'retry-after': '7' } },
      { status: 429, headers: { 'retry-after': '3' } },
      { status: 500, headers: { 'retry-after': '7' } },
    ];
    receiver.answer = () => answers.shift()!;
    await expect(service().deliver(run(session))).resolves.toMatchObject({ retryAfterMs: 7000 });
    await expect(service().deliver(run(session))).resolves.toMatchObject({ retryAfterMs: 3000 });
    await expect(service().deliver(run(session))).resolves.toMatchObject({ retryAfterMs: null });
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    receiver.answer = () => ({ status: 308, headers: { location: receiver.url('/elsewhere') } });
    const session = await sessionWith({ url: receiver.url(), secret });
    const outcome = await service().deliver(run(session));
    expect(outcome).toMatchObject({ kind: 'retry', error: expect.stringContaining('redirect') });
    // Followed, it would have been a second request (to /elsewhere).
    expect(receiver.received).toHaveLength(1);
  });

  it('counts no answer within WEBHOOK_TIMEOUT_MS as a failed attempt', async () => {
    receiver.answer = () => 'hold';
    const session = await sessionWith({ url: receiver.url(), secret });
    const r = run(session);
    const outcome = await service({ timeoutMs: 300 }).deliver(r);
    expect(outcome).toMatchObject({ kind: 'retry', error: 'no answer within 300 ms' });
    expect(r.saved.at(-1)?.[0].status).toBeNull();
  });

  it('dead-letters the last attempt with every attempt listed, before the job fails', async () => {
    receiver.answer = () => ({ status: 502 });
    const session = await sessionWith({ url: receiver.url(), secret });
    const r = run(session, { maxAttempts: 3 });
    const svc = service();
    await svc.deliver(r);
    r.attemptsMade = 1;
    await svc.deliver(r);
    r.attemptsMade = 2;
    await expect(svc.deliver(r)).resolves.toMatchObject({
      kind: 'dead',
      code: 'RETRIES_EXHAUSTED',
    });
    const letter = await deadLetters.get(r.data.deliveryId);
    expect(letter).toMatchObject({
      id: r.data.deliveryId,
      session,
      event: r.data.event,
      reason: { code: 'RETRIES_EXHAUSTED' },
    });
    expect(letter!.attempts.map((a) => a.status)).toEqual([502, 502, 502]);
  });

  it('disables an endpoint that answered 410 Gone: dead letter, and nothing more is sent', async () => {
    receiver.answer = () => ({ status: 410 });
    const session = await sessionWith({ url: receiver.url(), secret });
    const first = run(session);
    await expect(service().deliver(first)).resolves.toMatchObject({
      kind: 'dead',
      code: 'ENDPOINT_GONE',
    });
    expect(await redis.hexists(keys.webhookDisabled(), `session:${session}`)).toBe(1);
    receiver.answer = () => ({ status: 204 });
    const next = run(session);
    await expect(service().deliver(next)).resolves.toMatchObject({
      kind: 'dead',
      code: 'ENDPOINT_DISABLED',
    });
    expect(receiver.received).toHaveLength(1);
    expect((await deadLetters.get(next.data.deliveryId))?.reason.code).toBe('ENDPOINT_DISABLED');
  });

  it('refuses a private address at delivery unless WEBHOOK_ALLOW_PRIVATE (names resolved then)', async () => {
    for (const url of [receiver.url(), `http://localhost:${receiver.port}/hook`]) {
      const session = await sessionWith({ url, secret });
      const r = run(session);
      await expect(service({ allowPrivate: false }).deliver(r)).resolves.toMatchObject({
        kind: 'dead',
        code: 'ADDRESS_FORBIDDEN',
      });
    }
    expect(receiver.received).toHaveLength(0);
  });
});

describe('postWebhook: the address is checked once and the socket pinned to it', () => {
  it('connects to the checked address, the Host header keeping the name', async () => {
    const lookup = jest.fn(async () => [{ address: '127.0.0.1', family: 4 }]);
    const result = await postWebhook(
      `http://hooks.example.invalid:${receiver.port}/hook`,
      '{}',
      {},
      { timeoutMs: 2000, allowPrivate: true, lookup },
    );
    expect(result).toMatchObject({ kind: 'answered', status: 204 });
    // The name has no DNS record: the request arrived because the socket used the checked address.
    expect(receiver.received[0].headers.host).toBe(`hooks.example.invalid:${receiver.port}`);
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('refuses a name with any address the policy refuses (DNS rebinding)', async () => {
    const lookup = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    const result = await postWebhook(
      `http://rebind.example.invalid:${receiver.port}/`,
      '{}',
      {},
      {
        timeoutMs: 2000,
        allowPrivate: false,
        lookup,
      },
    );
    expect(result).toMatchObject({ kind: 'refused', error: expect.stringContaining('127.0.0.1') });
    expect(receiver.received).toHaveLength(0);
  });
});
