import { randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { createRedis, EventLog, metricsRegistry, RedisKeys, waitForReady } from '@app/core';
import {
  DEFAULT_SEND_JOB_POLICY,
  MessageQueueService,
  MessageStore,
  OutboundQueues,
  outboundQueueName,
  type SendMessageJob,
} from '@app/queue';
import type { FindSentOptions, OutgoingMessage, SendResult, SessionDriver } from '@app/session';
import {
  sharedRedisUrl,
  uniquePrefix,
  deleteByPrefix,
} from '../../../../test/support/redis-server';
import { ConsistencyCheck } from './consistency-check';
import { RecordSettler } from './record-settler';
import { MessageStatusService } from '../outbound/message-status.service';

const prefix = uniquePrefix('consistency');
const keys = new RedisKeys(prefix);
const logger = pino({ level: 'silent' });
let redis: Redis;
let queues: OutboundQueues;
let store: MessageStore;
let producer: MessageQueueService;
let settler: RecordSettler;
/** Grace 0: every record is old enough to be judged. */
let check: ConsistencyCheck;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = createRedis(sharedRedisUrl(), 'worker', `${prefix}-test`);
  await waitForReady(redis, 5000);
  queues = new OutboundQueues(redis, prefix);
  store = new MessageStore(redis, keys, 3600, new EventLog(redis, keys));
  producer = new MessageQueueService(queues, store, DEFAULT_SEND_JOB_POLICY);
  settler = new RecordSettler(
    redis,
    keys,
    store,
    logger,
    new MessageStatusService(redis, keys, store, 3600),
  );
  check = new ConsistencyCheck(redis, keys, settler, 0);
});

afterAll(async () => {
  for (const close of closers) await close();
  await queues.close();
  await deleteByPrefix(redis, prefix);
  await redis.quit();
});

async function enqueue(sessionId: string, sendAt?: string): Promise<SendMessageJob> {
  const job: SendMessageJob = {
    messageId: randomUUID(),
    sessionId,
    chatId: '15551234567@c.us',
    content: { text: 'hello' },
    contentHash: 'hash',
    priority: 'normal',
    createdAt: new Date().toISOString(),
    ...(sendAt ? { sendAt } : {}),
  };
  await producer.enqueue({ job, to: '+15551234567' });
  return job;
}

/**
 * A message caught mid-send whose job vanished: `sending` with an open intent of attempt `a1`
 * (the record names that attempt, as the send path writes them), and no job.
 */
async function sendingWithIntentAndNoJob(sessionId: string): Promise<SendMessageJob> {
  const m = await enqueue(sessionId);
  await store.transition(m.messageId, {
    to: 'sending',
    from: ['queued'],
    fields: { attemptId: 'a1' },
  });
  await redis.hset(keys.sendIntent(m.messageId), {
    attemptId: 'a1',
    startedAt: String(Date.now()),
    chatId: m.chatId,
    contentHash: m.contentHash,
  });
  await queues.get(sessionId).remove(m.messageId);
  return m;
}

/** Takes the next job of a session's queue as a worker would (active, locked by `token`). */
async function takeJob(sessionId: string, token: string) {
  const worker = new Worker(outboundQueueName(sessionId), null, {
    connection: redis,
    prefix,
    autorun: false,
  });
  closers.push(() => worker.close());
  const job = await worker.getNextJob(token);
  if (!job) throw new Error('no job to take');
  return job;
}

/** A driver that answers reconciliation from a fixed set of sent message ids. */
function reconcilingDriver(sent: Map<string, SendResult & { pending?: boolean }>): SessionDriver {
  return {
    findSent: (m: OutgoingMessage) => Promise.resolve(sent.get(m.messageId) ?? null),
  } as unknown as SessionDriver;
}

async function stats(): Promise<Record<string, string>> {
  return redis.hgetall(keys.stats());
}

async function metric(outcome: string): Promise<number> {
  const m = await metricsRegistry.getSingleMetric('wa_consistency_fixed_total')!.get();
  return m.values.filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
}

describe('consistency: every job that ends ends its record', () => {
  it('indexes a new record as unfinished for its session', async () => {
    const session = `idx-${randomUUID().slice(0, 6)}`;
    const m = await enqueue(session);
    expect(await redis.zscore(keys.unfinished(session), m.messageId)).not.toBeNull();
  });

  it('takes a record out of the index when it turns final, without waiting for the check', async () => {
    const session = `final-${randomUUID().slice(0, 6)}`;
    const m = await enqueue(session);
    expect((await producer.cancel(m.messageId, session)).result).toBe('cancelled');
    expect(await redis.zscore(keys.unfinished(session), m.messageId)).toBeNull();
  });

  it('finds a lost job behind a backlog of live messages on a later pass', async () => {
    const session = `deep-${randomUUID().slice(0, 6)}`;
    const small = new ConsistencyCheck(redis, keys, settler, 0, 2);
    for (let i = 0; i < 3; i++) await enqueue(session);
    const lost = await enqueue(session);
    const queue = queues.get(session);
    await queue.remove(lost.messageId);
    // The first pass sees two live messages only; the next goes on past them.
    expect(await small.checkSession({ sessionId: session, queue, driver: null })).toBe(0);
    expect(await small.checkSession({ sessionId: session, queue, driver: null })).toBe(1);
    expect((await store.get(lost.messageId))!.status).toBe('failed');
  });

  it('fails with JOB_LOST a record whose job was removed behind its back, and counts it', async () => {
    const session = `lost-${randomUUID().slice(0, 6)}`;
    const kept = await enqueue(session);
    const lost = await enqueue(session);
    const queue: Queue = queues.get(session);
    await queue.remove(lost.messageId);
    const fixedBefore = Number((await stats()).consistencyFixed ?? 0);
    const metricBefore = await metric('failed');

    const fixed = await check.checkSession({ sessionId: session, queue, driver: null });

    expect(fixed).toBe(1);
    const record = await store.get(lost.messageId);
    expect(record).toMatchObject({ status: 'failed', error: { code: 'JOB_LOST' } });
    expect((await store.get(kept.messageId))!.status).toBe('queued');
    expect(Number((await stats()).consistencyFixed)).toBe(fixedBefore + 1);
    expect(await metric('failed')).toBe(metricBefore + 1);
    // Settled records leave the index; the live one stays.
    expect(await redis.zscore(keys.unfinished(session), lost.messageId)).toBeNull();
    expect(await redis.zscore(keys.unfinished(session), kept.messageId)).not.toBeNull();
  });

  it('fails with its reason a record whose job BullMQ failed directly (moveToFailed)', async () => {
    const session = `failed-${randomUUID().slice(0, 6)}`;
    const m = await enqueue(session);
    const token = randomUUID();
    const job = await takeJob(session, token);
    await job.moveToFailed(
      new UnrecoverableError('MAX_STALLED: job stalled more than allowable limit'),
      token,
    );
    expect(await queues.get(session).getJobState(m.messageId)).toBe('failed');
    expect((await store.get(m.messageId))!.status).toBe('queued');

    await check.checkSession({ sessionId: session, queue: queues.get(session), driver: null });

    expect(await store.get(m.messageId)).toMatchObject({
      status: 'failed',
      error: { code: 'MAX_STALLED', message: 'job stalled more than allowable limit' },
    });
  });

  it('reconciles an open send intent first: found sent, the record is sent', async () => {
    const session = `intent-${randomUUID().slice(0, 6)}`;
    const m = await sendingWithIntentAndNoJob(session);

    // Without a ready session it waits: an intent is never settled blind.
    await check.checkSession({ sessionId: session, queue: queues.get(session), driver: null });
    expect((await store.get(m.messageId))!.status).toBe('sending');

    const sent = new Map([
      [m.messageId, { waMessageId: 'true_x_3EB0AA', at: new Date().toISOString() }],
    ]);
    await check.checkSession({
      sessionId: session,
      queue: queues.get(session),
      driver: reconcilingDriver(sent),
    });
    expect(await store.get(m.messageId)).toMatchObject({
      status: 'sent',
      waMessageId: 'true_x_3EB0AA',
    });
    expect(await redis.exists(keys.sendIntent(m.messageId))).toBe(0);
    expect(await redis.get(keys.waMessage(session, 'true_x_3EB0AA'))).toBe(m.messageId);
  });

  it('leaves a message found pending in the local store, and never claims an id of another message', async () => {
    const session = `pending-${randomUUID().slice(0, 6)}`;
    const m = await sendingWithIntentAndNoJob(session);
    const at = new Date().toISOString();
    // Still in WhatsApp Web's local store (ack 0): neither sent nor failed.
    const pending = new Map([[m.messageId, { waMessageId: 'true_x_3EB0PP', at, pending: true }]]);
    await check.checkSession({
      sessionId: session,
      queue: queues.get(session),
      driver: reconcilingDriver(pending),
    });
    expect((await store.get(m.messageId))!.status).toBe('sending');
    expect(await redis.exists(keys.sendIntent(m.messageId))).toBe(1);
    // The settler asks the driver to skip ids that belong to another message.
    await redis.set(keys.waMessage(session, 'true_x_3EB0OTHER'), 'another-message');
    let claimed: boolean | null = null;
    const asking = {
      findSent: async (_m: OutgoingMessage, opts?: FindSentOptions) => {
        claimed = (await opts?.isClaimed?.('true_x_3EB0OTHER')) ?? null;
        return null;
      },
    } as unknown as SessionDriver;
    await check.checkSession({ sessionId: session, queue: queues.get(session), driver: asking });
    expect(claimed).toBe(true);
    expect((await store.get(m.messageId))!.status).toBe('failed');
  });

  it('never touches a record whose job is still live, nor one inside the grace period', async () => {
    const session = `live-${randomUUID().slice(0, 6)}`;
    const waiting = await enqueue(session);
    const token = randomUUID();
    await takeJob(session, token); // now active
    const graced = new ConsistencyCheck(redis, keys, settler, 3600000);
    const young = await enqueue(session);
    await queues.get(session).remove(young.messageId);

    expect(
      await graced.checkSession({ sessionId: session, queue: queues.get(session), driver: null }),
    ).toBe(0);
    expect(
      await check.checkSession({ sessionId: session, queue: queues.get(session), driver: null }),
    ).toBe(1);
    expect((await store.get(waiting.messageId))!.status).toBe('queued');
    expect((await store.get(young.messageId))!.status).toBe('failed');
  });

  it('judges a scheduled message only from its send time on (its job waits until then)', async () => {
    const session = `sched-${randomUUID().slice(0, 6)}`;
    const sendAt = Date.now() + 3600000;
    const scheduled = await enqueue(session, new Date(sendAt).toISOString());
    const queue = queues.get(session);
    expect(await queue.getJobState(scheduled.messageId)).toBe('delayed');
    expect(Number(await redis.zscore(keys.unfinished(session), scheduled.messageId))).toBe(sendAt);
    // Its job lost: a pass before its send time does not even look at it (an idle worker's
    // passes cost nothing per scheduled message) ...
    await queue.remove(scheduled.messageId);
    expect(await check.checkSession({ sessionId: session, queue, driver: null })).toBe(0);
    expect((await store.get(scheduled.messageId))!.status).toBe('queued');
    // ... one after it (and the grace period) finds it lost.
    expect(await check.checkSession({ sessionId: session, queue, driver: null }, sendAt + 1)).toBe(
      1,
    );
    expect(await store.get(scheduled.messageId)).toMatchObject({
      status: 'failed',
      error: { code: 'JOB_LOST' },
    });
  });

  it('repairs a status event a crash left in its outbox, then lets the final record go', async () => {
    const session = `ev-${randomUUID().slice(0, 6)}`;
    const m = await enqueue(session);
    // A change recorded (record + outbox in one step) by a writer that died before its flush.
    await redis.hset(keys.message(m.messageId), 'status', 'sent');
    const lost = JSON.stringify({
      id: `evt_${randomUUID()}`,
      type: 'message.status',
      session,
      timestamp: new Date(Date.now() - 1000).toISOString(),
      data: { messageId: m.messageId, status: 'sent', previous: 'sending' },
    });
    await redis.rpush(keys.messageOutbox(m.messageId), lost);
    await queues.get(session).remove(m.messageId);

    await check.checkSession({ sessionId: session, queue: queues.get(session), driver: null });
    await check.checkSession({ sessionId: session, queue: queues.get(session), driver: null });

    const inStream = (await new EventLog(redis, keys).after('0', 100000)).filter(
      (e) => e.event.id === (JSON.parse(lost) as { id: string }).id,
    );
    expect(inStream).toHaveLength(1);
    expect(await redis.llen(keys.messageOutbox(m.messageId))).toBe(0);
    expect(await redis.zscore(keys.unfinished(session), m.messageId)).toBeNull();
  });

  it('repairs the session outbox (a session.status event left by a crash)', async () => {
    const session = `sev-${randomUUID().slice(0, 6)}`;
    const lost = JSON.stringify({
      id: `evt_${randomUUID()}`,
      type: 'session.status',
      session,
      timestamp: new Date(Date.now() - 1000).toISOString(),
      data: { status: 'ready', previous: 'authenticating', lastError: null, worker: 'w' },
    });
    await redis.rpush(keys.sessionOutbox(session), lost);
    await check.checkSession({ sessionId: session, queue: queues.get(session), driver: null });
    const ids = (await new EventLog(redis, keys).after('0', 100000)).map((e) => e.event.id);
    expect(ids).toContain((JSON.parse(lost) as { id: string }).id);
    expect(await redis.llen(keys.sessionOutbox(session))).toBe(0);
  });
});
