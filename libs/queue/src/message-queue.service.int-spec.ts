import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sharedRedisUrl, uniquePrefix } from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait-for';
import { DEFAULT_SEND_JOB_POLICY, sendJobOptions } from './job-options';
import { SEND_JOB_VERSION, type SendMessageJob } from './jobs';
import { MessageQueueService, type NewMessage } from './message-queue.service';
import { MessageStore } from './message-store';
import { OutboundQueues } from './outbound-queues';
import { JobName, outboundQueueName, PRIORITY, type MessagePriority } from './queue.constants';
import { createRedis, EventLog, RedisKeys, waitForReady } from '@app/core';

const RETENTION_SECONDS = 3600;
const BULK_SIZE = 200;

const prefix = uniquePrefix('message-queue');
const keys = new RedisKeys(prefix);
/** The connection under test, created as the gateway creates it (fails fast when down). */
let producer: Redis;
/** A separate connection to inspect Redis and to kill the producer's connection. */
let admin: Redis;
let queues: OutboundQueues;
let store: MessageStore;
let service: MessageQueueService;
/** Read-only views of the queues, on the admin connection so they work while the producer is down. */
const inspectors = new Map<string, Queue>();

beforeAll(async () => {
  producer = createRedis(sharedRedisUrl(), 'producer', `${prefix}-producer`);
  producer.on('error', () => undefined); // kills below make it report errors; calls still reject
  admin = createRedis(sharedRedisUrl(), 'worker', `${prefix}-admin`);
  await Promise.all([waitForReady(producer, 5000), waitForReady(admin, 5000)]);
  queues = new OutboundQueues(producer, prefix);
  store = new MessageStore(producer, keys, RETENTION_SECONDS, new EventLog(producer, keys));
  service = new MessageQueueService(queues, store, DEFAULT_SEND_JOB_POLICY);
});

afterAll(async () => {
  await queues.close();
  await Promise.all([...inspectors.values()].map((q) => q.close()));
  await deleteKeys(`${prefix}:*`);
  await Promise.all([producer.quit(), admin.quit()]);
});

async function deleteKeys(pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (found.length) await admin.unlink(...found);
    cursor = next;
  } while (cursor !== '0');
}

function inspect(sessionId: string): Queue {
  let queue = inspectors.get(sessionId);
  if (!queue) {
    queue = new Queue(outboundQueueName(sessionId), { connection: admin, prefix });
    inspectors.set(sessionId, queue);
  }
  return queue;
}

/** A session id no other test uses, so each test sees only its own jobs. */
function newSessionId(): string {
  return `s-${randomUUID().slice(0, 8)}`;
}

function newMessage(
  sessionId: string,
  overrides: Partial<SendMessageJob> = {},
  text = 'hello',
): NewMessage {
  const job: SendMessageJob = {
    messageId: randomUUID(),
    sessionId,
    chatId: '15551234567@c.us',
    content: { text },
    contentHash: 'hash',
    priority: 'normal',
    createdAt: new Date().toISOString(),
    ...overrides,
  };
  return { job, to: '+15551234567' };
}

async function enqueued(
  sessionId: string,
  overrides: Partial<SendMessageJob> = {},
): Promise<SendMessageJob> {
  const message = newMessage(sessionId, overrides);
  await service.enqueue(message);
  return message.job;
}

async function jobExists(sessionId: string, messageId: string): Promise<boolean> {
  return (await inspect(sessionId).getJob(messageId)) !== undefined;
}

async function pendingCount(sessionId: string): Promise<number> {
  const counts = await inspect(sessionId).getJobCounts('waiting', 'prioritized', 'delayed');
  return counts.waiting + counts.prioritized + counts.delayed;
}

describe('MessageQueueService', () => {
  describe('enqueue', () => {
    it.each(['high', 'normal', 'low'] as MessagePriority[])(
      'writes the record and a %s-priority job whose id is the message id',
      async (priority) => {
        const sessionId = newSessionId();

        const job = await enqueued(sessionId, { priority });

        const record = await store.get(job.messageId);
        expect(record).toMatchObject({ id: job.messageId, status: 'queued', priority });
        const queued = await inspect(sessionId).getJob(job.messageId);
        expect(queued).toBeDefined();
        expect(queued!.id).toBe(job.messageId);
        expect(queued!.name).toBe(JobName.SendMessage);
        expect(queued!.data).toEqual({ ...job, version: SEND_JOB_VERSION });
        expect(queued!.opts.priority).toBe(PRIORITY[priority]);
        expect(queued!.opts.attempts).toBe(DEFAULT_SEND_JOB_POLICY.maxAttempts);
        expect(await queued!.getState()).toBe('prioritized');
      },
    );

    describe('with requireSession', () => {
      it('writes nothing and answers false when the session does not exist', async () => {
        const sessionId = newSessionId();
        const single = newMessage(sessionId);
        const bulk = [newMessage(sessionId), newMessage(sessionId)];

        expect(await service.enqueue(single, { requireSession: true })).toBe(false);
        expect(await service.enqueueBulk(bulk, { requireSession: true })).toBe(false);

        for (const m of [single, ...bulk]) {
          expect(await store.get(m.job.messageId)).toBeNull();
          expect(await jobExists(sessionId, m.job.messageId)).toBe(false);
        }
        expect(await admin.exists(keys.unfinished(sessionId))).toBe(0);
      });

      it('writes record, index entry, queued event and job when the session exists', async () => {
        const sessionId = newSessionId();
        await admin.hset(keys.session(sessionId), 'id', sessionId);
        const message = newMessage(sessionId);

        expect(await service.enqueue(message, { requireSession: true })).toBe(true);

        const id = message.job.messageId;
        expect(await store.get(id)).toMatchObject({ id, status: 'queued' });
        expect(await jobExists(sessionId, id)).toBe(true);
        expect(await admin.zscore(keys.unfinished(sessionId), id)).not.toBeNull();
        // The queued event is in the stream and no longer in the message's outbox.
        expect(await admin.llen(keys.messageOutbox(id))).toBe(0);
        const entries = await admin.xrange(keys.eventStream(), '-', '+');
        const events = entries.map(
          ([, f]) =>
            JSON.parse(f[f.indexOf('e') + 1]) as { data: { messageId: string; status: string } },
        );
        expect(events.filter((e) => e.data.messageId === id).map((e) => e.data.status)).toEqual([
          'queued',
        ]);
      });
    });

    it('delays the job of a scheduled message until its sendAt', async () => {
      const sessionId = newSessionId();
      const sendAt = new Date(Date.now() + 60_000).toISOString();

      const job = await enqueued(sessionId, { sendAt });

      const queued = await inspect(sessionId).getJob(job.messageId);
      expect(await queued!.getState()).toBe('delayed');
      expect(queued!.opts.delay).toBeGreaterThan(58_000);
      expect(queued!.opts.delay).toBeLessThanOrEqual(60_000);
      expect((await store.get(job.messageId))!.sendAt).toBe(sendAt);
    });

    it('does not delay a message whose sendAt has already passed', async () => {
      const sessionId = newSessionId();
      const sendAt = new Date(Date.now() - 1000).toISOString();

      const job = await enqueued(sessionId, { sendAt });

      const queued = await inspect(sessionId).getJob(job.messageId);
      expect(queued!.opts.delay ?? 0).toBe(0);
      expect(await queued!.getState()).toBe('prioritized');
    });
  });

  describe('cancel', () => {
    it('cancels a queued message and removes its job', async () => {
      const sessionId = newSessionId();
      const expiresAt = new Date(Date.now() + 60_000).toISOString();
      const job = await enqueued(sessionId, { expiresAt });

      const outcome = await service.cancel(job.messageId, sessionId);

      expect(outcome).toEqual({ result: 'cancelled' });
      const record = await store.get(job.messageId);
      expect(record!.status).toBe('cancelled');
      expect(record!.history.map((h) => h.status)).toEqual(['queued', 'cancelled']);
      expect(await jobExists(sessionId, job.messageId)).toBe(false);
      expect(await admin.zscore(keys.expiries(), job.messageId)).toBeNull();
    });

    it('answers cancelled again for a message already cancelled, changing nothing', async () => {
      const sessionId = newSessionId();
      const job = await enqueued(sessionId);
      await service.cancel(job.messageId, sessionId);
      const afterFirst = await store.get(job.messageId);

      const outcome = await service.cancel(job.messageId, sessionId);

      expect(outcome).toEqual({ result: 'cancelled' });
      expect(await store.get(job.messageId)).toEqual(afterFirst);
    });

    it('refuses to cancel a message that is being sent', async () => {
      const sessionId = newSessionId();
      const job = await enqueued(sessionId);
      await store.transition(job.messageId, { to: 'sending', from: ['queued'] });

      const outcome = await service.cancel(job.messageId, sessionId);

      expect(outcome).toEqual({ result: 'conflict', status: 'sending' });
      expect(await store.status(job.messageId)).toBe('sending');
      expect(await jobExists(sessionId, job.messageId)).toBe(true);
    });

    it('answers not_found for an unknown message, removing a stray job all the same', async () => {
      const sessionId = newSessionId();
      const stray = newMessage(sessionId).job;
      await queues
        .get(sessionId)
        .add(JobName.SendMessage, stray, sendJobOptions(stray, DEFAULT_SEND_JOB_POLICY));

      expect(await service.cancel(stray.messageId, sessionId)).toEqual({ result: 'not_found' });
      expect(await jobExists(sessionId, stray.messageId)).toBe(false);
      expect(await service.cancel('never-existed', sessionId)).toEqual({ result: 'not_found' });
    });

    it('expire marks a queued message expired with its reason and removes its job', async () => {
      const sessionId = newSessionId();
      const job = await enqueued(sessionId);

      expect(await service.expire(job.messageId, sessionId)).toEqual({ result: 'cancelled' });

      const record = await store.get(job.messageId);
      expect(record!.status).toBe('expired');
      expect(record!.error).toEqual({ code: 'EXPIRED', message: expect.any(String) });
      expect(await jobExists(sessionId, job.messageId)).toBe(false);
      // An expired message is final: cancelling it afterwards is a conflict.
      expect(await service.cancel(job.messageId, sessionId)).toEqual({
        result: 'conflict',
        status: 'expired',
      });
    });
  });

  describe('clear', () => {
    it('cancels every waiting and delayed message of the session and returns how many', async () => {
      const sessionId = newSessionId();
      const otherSessionId = newSessionId();
      const later = new Date(Date.now() + 60_000).toISOString();
      const jobs = [
        await enqueued(sessionId, { priority: 'high' }),
        await enqueued(sessionId, { priority: 'normal' }),
        await enqueued(sessionId, { priority: 'low' }),
        await enqueued(sessionId, { sendAt: later }),
        await enqueued(sessionId, { sendAt: later, priority: 'high' }),
      ];
      const untouched = await enqueued(otherSessionId);

      const cleared = await service.clear(sessionId);

      expect(cleared).toBe(jobs.length);
      expect(await pendingCount(sessionId)).toBe(0);
      for (const job of jobs) expect(await store.status(job.messageId)).toBe('cancelled');
      expect(await store.status(untouched.messageId)).toBe('queued');
      expect(await jobExists(otherSessionId, untouched.messageId)).toBe(true);
    });

    it('returns 0 for a session with nothing queued', async () => {
      expect(await service.clear(newSessionId())).toBe(0);
    });

    it('clears the queue of a paused session (a session that is down)', async () => {
      const sessionId = newSessionId();
      await queues.get(sessionId).pause();
      const jobs = [await enqueued(sessionId), await enqueued(sessionId)];

      expect(await service.clear(sessionId)).toBe(2);
      for (const job of jobs) expect(await jobExists(sessionId, job.messageId)).toBe(false);
    });

    it('leaves a message that is being sent in the queue, and still finishes', async () => {
      const sessionId = newSessionId();
      // After an unknown send outcome the worker puts the job back in the queue while its
      // record stays `sending` until reconciled.
      const inFlight = await enqueued(sessionId);
      await store.transition(inFlight.messageId, { to: 'sending', from: ['queued'] });
      const others = [await enqueued(sessionId), await enqueued(sessionId)];

      const cleared = await service.clear(sessionId);

      expect(cleared).toBe(others.length);
      expect(await store.status(inFlight.messageId)).toBe('sending');
      expect(await jobExists(sessionId, inFlight.messageId)).toBe(true);
      for (const job of others) expect(await store.status(job.messageId)).toBe('cancelled');
    }, 5000);

    it('clears more jobs than one page holds', async () => {
      const sessionId = newSessionId();
      await service.enqueueBulk(Array.from({ length: 1200 }, () => newMessage(sessionId)));

      expect(await service.clear(sessionId)).toBe(1200);
      expect(await pendingCount(sessionId)).toBe(0);
    }, 20000);
  });

  describe('enqueueBulk', () => {
    it('writes every record and every job', async () => {
      const sessionId = newSessionId();
      const sendAt = new Date(Date.now() + 60_000).toISOString();
      const messages = [
        newMessage(sessionId, { priority: 'high' }),
        newMessage(sessionId, { priority: 'low' }),
        newMessage(sessionId, { sendAt }),
      ];

      await service.enqueueBulk(messages);

      for (const { job } of messages) {
        expect(await store.status(job.messageId)).toBe('queued');
        const queued = await inspect(sessionId).getJob(job.messageId);
        expect(queued!.data).toEqual({ ...job, version: SEND_JOB_VERSION });
        expect(queued!.opts.priority).toBe(PRIORITY[job.priority]);
      }
      const counts = await inspect(sessionId).getJobCounts('prioritized', 'delayed');
      expect(counts).toEqual({ prioritized: 2, delayed: 1 });
    });

    it('does nothing for an empty list', async () => {
      await expect(service.enqueueBulk([])).resolves.toBe(true);
    });

    describe('when the connection is killed while bulks are written', () => {
      // Big texts make each bulk's transaction long enough on the wire to be cut in the middle.
      const TEXT = 'x'.repeat(4000);
      const MIN_ROUNDS = 30;
      // Enough rounds for 3 cut transactions on a loaded machine too (where a faster write leaves
      // a narrower window to cut): the loop stops as soon as it has them.
      const MAX_ROUNDS = 500;
      const MIN_CUT_TRANSACTIONS = 3;

      it('leaves all of a bulk or none of it, never part', async () => {
        const sessionId = newSessionId();
        const calibration = bulkOf(sessionId);
        const startedAt = Date.now();
        await service.enqueueBulk(calibration);
        const bulkMs = Date.now() - startedAt;
        let completeBulks = 1;
        let cutTransactions = 0;
        let rounds = 0;

        while (rounds < MIN_ROUNDS || cutTransactions < MIN_CUT_TRANSACTIONS) {
          if (rounds >= MAX_ROUNDS) break;
          rounds++;
          const messages = bulkOf(sessionId);
          // Half the rounds kill at a random moment; half kill the moment Redis shows the
          // producer inside a MULTI, between its first queued command and its EXEC.
          const trigger = rounds % 2 ? randomMoment(bulkMs) : transactionOpen;

          const round = await writeWhileKilling(() => service.enqueueBulk(messages), trigger);

          const found = await jobsFound(sessionId, messages);
          expect({ round: rounds, found }).toEqual({
            round: rounds,
            found: found === 0 ? 0 : messages.length,
          });
          if (found === messages.length) completeBulks++;
          if (round.killedInTransaction && round.failed && found === 0) cutTransactions++;
        }

        // The kills did land inside transactions, and Redis dropped those bulks whole.
        expect(cutTransactions).toBeGreaterThanOrEqual(MIN_CUT_TRANSACTIONS);
        expect(await pendingCount(sessionId)).toBe(completeBulks * BULK_SIZE);
      }, 240000);

      it('would catch a half-written bulk (Queue.addBulk, a plain pipeline, can leave one)', async () => {
        // Proves the check above can fail: the same kills split a pipelined bulk.
        const sessionId = newSessionId();
        let partial = false;
        for (let round = 0; round < 50 && !partial; round++) {
          const messages = bulkOf(sessionId);
          const addAsPipeline = () =>
            queues.get(sessionId).addBulk(
              messages.map(({ job }) => ({
                name: JobName.SendMessage,
                data: job,
                opts: sendJobOptions(job, DEFAULT_SEND_JOB_POLICY),
              })),
            );
          await writeWhileKilling(addAsPipeline, firstJobVisible(sessionId, messages));
          const found = await jobsFound(sessionId, messages);
          partial = found > 0 && found < messages.length;
        }
        expect(partial).toBe(true);
      }, 60000);

      function bulkOf(sessionId: string): NewMessage[] {
        return Array.from({ length: BULK_SIZE }, () => newMessage(sessionId, {}, TEXT));
      }
    });
  });
});

/** Decides when to kill: resolves true to kill now; `settled` says the write has finished. */
type KillTrigger = (producerId: string, settled: () => boolean) => Promise<boolean>;

interface KilledRound {
  failed: boolean;
  killedInTransaction: boolean;
}

/**
 * Starts `write` on the producer connection, kills that connection (CLIENT KILL ID, so no other
 * client of the shared Redis is touched) when `trigger` says so, waits for the write to settle
 * and for the producer to reconnect.
 */
async function writeWhileKilling(
  write: () => Promise<unknown>,
  trigger: KillTrigger,
): Promise<KilledRound> {
  const producerId = await connectedProducerId();
  let settled = false;
  const outcome = write().then(
    () => ({ failed: false }),
    () => ({ failed: true }),
  );
  void outcome.finally(() => (settled = true));
  const killedInTransaction = await trigger(producerId, () => settled);
  await admin.client('KILL', 'ID', producerId);
  const { failed } = await outcome;
  await waitFor(
    'the producer to reconnect',
    async () => (await connectedProducerId()) !== producerId,
    5000,
  );
  return { failed, killedInTransaction };
}

/** The server-side id of the producer's connection, once it is ready. */
async function connectedProducerId(): Promise<string> {
  await waitForReady(producer, 5000);
  return String(await producer.client('ID'));
}

function randomMoment(withinMs: number): KillTrigger {
  return async () => {
    const at = Date.now() + Math.random() * withinMs;
    await waitFor('the chosen moment', () => Date.now() >= at, withinMs + 1000, 1);
    return false;
  };
}

/** Kills as soon as Redis reports the producer's MULTI with commands queued in it. */
const transactionOpen: KillTrigger = async (producerId, settled) => {
  while (!settled()) {
    const info = String(await admin.client('LIST', 'ID', producerId));
    const queuedInMulti = Number(/ multi=(-?\d+)/.exec(info)?.[1] ?? -1);
    if (queuedInMulti > 0) return true;
  }
  return false;
};

/** Kills as soon as the first job of the bulk is in the queue. */
function firstJobVisible(sessionId: string, messages: NewMessage[]): KillTrigger {
  const firstJobKey = `${prefix}:${outboundQueueName(sessionId)}:${messages[0].job.messageId}`;
  return async (_producerId, settled) => {
    while (!settled()) {
      if (await admin.exists(firstJobKey)) return false;
    }
    return false;
  };
}

async function jobsFound(sessionId: string, messages: NewMessage[]): Promise<number> {
  const queue = inspect(sessionId);
  const jobs = await Promise.all(messages.map(({ job }) => queue.getJob(job.messageId)));
  return jobs.filter((j) => j !== undefined).length;
}
