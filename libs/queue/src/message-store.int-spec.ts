import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { sharedRedisUrl, uniquePrefix } from '../../../test/support/redis-server';
import type { MessageStatus, SendMessageJob } from './jobs';
import { MessageStore } from './message-store';
import { createRedis, EventLog, RedisKeys, waitForReady } from '@app/core';

const RETENTION_SECONDS = 3600;
const SESSION_ID = 'store-spec';

const prefix = uniquePrefix('message-store');
const keys = new RedisKeys(prefix);
let redis: Redis;
let store: MessageStore;

beforeAll(async () => {
  redis = createRedis(sharedRedisUrl(), 'worker', `${prefix}-a`);
  await waitForReady(redis, 5000);
  store = new MessageStore(redis, keys, RETENTION_SECONDS, new EventLog(redis, keys));
});

afterAll(async () => {
  await deleteKeys(redis, `${prefix}:*`);
  await redis.quit();
});

async function deleteKeys(conn: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await conn.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (found.length) await conn.unlink(...found);
    cursor = next;
  } while (cursor !== '0');
}

function newJob(overrides: Partial<SendMessageJob> = {}): SendMessageJob {
  return {
    messageId: randomUUID(),
    sessionId: SESSION_ID,
    chatId: '15551234567@c.us',
    content: { text: 'hello' },
    contentHash: 'hash-of-hello',
    priority: 'normal',
    createdAt: new Date().toISOString(),
    ...overrides,
  };
}

/** Creates the record of a new queued message, as the producer does. */
async function createMessage(overrides: Partial<SendMessageJob> = {}): Promise<SendMessageJob> {
  const job = newJob(overrides);
  await store.create(job, '+1 555 123 4567');
  return job;
}

/** Puts a message in `status` without going through the allowed paths. */
async function forceStatus(id: string, status: MessageStatus): Promise<void> {
  await redis.hset(keys.message(id), 'status', status);
}

async function historyStatuses(id: string): Promise<MessageStatus[]> {
  const record = await store.get(id);
  return record!.history.map((h) => h.status);
}

// Both ways a status change records its event: straight into the stream in the change's own
// script (one Redis, the default there) and through the message's outbox (Redis Cluster, where
// the stream is in another slot; test/redis-cluster.e2e-spec.ts runs it on a real cluster).
describe.each([
  ['events in the script (one Redis)', true],
  ['events through the outbox (as under Cluster)', false],
])('MessageStore, %s', (_path, inline) => {
  beforeAll(() => {
    store = new MessageStore(redis, keys, RETENTION_SECONDS, new EventLog(redis, keys), inline);
  });
  // Cases that exist on one path only are declared on that path only (not skipped on the other).
  const onOutboxPath: typeof it = ((name: string, fn: jest.ProvidesCallback) =>
    inline ? undefined : it(name, fn)) as typeof it;
  const onInlinePath: typeof it = ((name: string, fn: jest.ProvidesCallback) =>
    inline ? it(name, fn) : undefined) as typeof it;

  describe('create and get', () => {
    it('creates a queued record that get returns in full', async () => {
      const job = await createMessage({ priority: 'high' });

      const record = await store.get(job.messageId);

      expect(record).toEqual({
        id: job.messageId,
        session: SESSION_ID,
        to: '+1 555 123 4567',
        status: 'queued',
        attempts: 0,
        waMessageId: null,
        error: null,
        priority: 'high',
        createdAt: job.createdAt,
        sentAt: null,
        deliveredAt: null,
        readAt: null,
        sendAt: null,
        expiresAt: null,
        updatedAt: job.createdAt,
        history: [{ status: 'queued', at: job.createdAt }],
      });
      expect(await store.exists(job.messageId)).toBe(true);
      expect(await store.status(job.messageId)).toBe('queued');
    });

    it('leaves a record that exists already as it is: a resumed request does not reset a message that moved on', async () => {
      const session = `resumed-${randomUUID()}`;
      await redis.hset(keys.session(session), 'id', session);
      const [earlier, later] = [0, 1].map(() => ({
        job: newJob({ sessionId: session }),
        to: '+1 555 123 4567',
      }));
      await (
        await store.createAll([earlier], { requireSession: true })
      ).settled;
      await store.transition(earlier.job.messageId, { to: 'sending', from: ['queued'] });
      await store.transition(earlier.job.messageId, { to: 'sent', from: ['sending'] });
      const before = await store.get(earlier.job.messageId);

      // The retry writes both: the one that went out meanwhile, and one still missing.
      const again = await store.createAll([earlier, later], { requireSession: true });
      await again.settled;

      expect(await store.get(earlier.job.messageId)).toEqual(before);
      expect(await store.status(later.job.messageId)).toBe('queued');
      const stream = await new EventLog(redis, keys).after('0', 100000);
      const queuedOf = (id: string) =>
        stream.filter(
          (e) =>
            e.event.session === session &&
            (e.event.data as { messageId?: string; status?: string }).messageId === id &&
            (e.event.data as { status?: string }).status === 'queued',
        ).length;
      expect(queuedOf(earlier.job.messageId)).toBe(1);
      expect(queuedOf(later.job.messageId)).toBe(1);
    });

    /** A session that exists, and `n` new messages of it. */
    async function sessionWithMessages(name: string, n: number) {
      const session = `${name}-${randomUUID()}`;
      await redis.hset(keys.session(session), 'id', session);
      const items = Array.from({ length: n }, () => ({
        job: newJob({ sessionId: session }),
        to: '15551234567',
      }));
      return { session, items };
    }

    it('writes ids minted for the write (newIds) as the default does: records, history, one queued event each', async () => {
      const { items: all } = await sessionWithMessages('new-ids', 4);
      const [items, plain] = [all.slice(0, 2), all.slice(2)];

      expect((await store.createAll(items, { requireSession: true, newIds: true })).created).toBe(
        true,
      );
      await (
        await store.createAll(plain, { requireSession: true })
      ).settled;

      const stream = await new EventLog(redis, keys).after('0', 100000);
      for (const [i, { job }] of items.entries()) {
        const record = (await store.get(job.messageId))!;
        const reference = (await store.get(plain[i].job.messageId))!;
        const same = (r: typeof record) => ({
          ...r,
          id: '',
          createdAt: '',
          updatedAt: '',
          history: r.history.map((h) => h.status),
        });
        expect(same(record)).toEqual(same(reference));
        expect(
          stream.filter(
            (e) => (e.event.data as { messageId?: string }).messageId === job.messageId,
          ),
        ).toHaveLength(1);
      }
    });

    it('with newIds, a resent write (its reply lost, ioredis sends it again) writes nothing twice', async () => {
      const { items } = await sessionWithMessages('resent', 3);
      expect((await store.createAll(items, { requireSession: true, newIds: true })).created).toBe(
        true,
      );
      await store.transition(items[0].job.messageId, { to: 'cancelled', from: ['queued'] });
      const before = await Promise.all(items.map(({ job }) => store.get(job.messageId)));

      // The same command again, as ioredis resends it after a reconnect.
      expect((await store.createAll(items, { requireSession: true, newIds: true })).created).toBe(
        true,
      );

      expect(await Promise.all(items.map(({ job }) => store.get(job.messageId)))).toEqual(before);
      const stream = await new EventLog(redis, keys).after('0', 100000);
      for (const { job } of items) {
        const queued = stream.filter(
          (e) =>
            (e.event.data as { messageId?: string }).messageId === job.messageId &&
            (e.event.data as { status?: string }).status === 'queued',
        );
        expect(queued).toHaveLength(1);
      }
    });

    it('with newIds, a write that stopped midway is completed, leaving what it wrote as it is', async () => {
      const { items } = await sessionWithMessages('midway', 3);
      // The first message was written (and moved on), the others not.
      await (
        await store.createAll([items[0]], { requireSession: true })
      ).settled;
      await store.transition(items[0].job.messageId, { to: 'cancelled', from: ['queued'] });
      const first = await store.get(items[0].job.messageId);

      await store.createAll(items, { requireSession: true, newIds: true });

      expect(await store.get(items[0].job.messageId)).toEqual(first);
      for (const { job } of items.slice(1))
        expect(await store.status(job.messageId)).toBe('queued');
    });

    it('with newIds and a session gone, writes nothing', async () => {
      const session = `gone-${randomUUID()}`;
      const item = { job: newJob({ sessionId: session }), to: '15551234567' };
      const created = await store.createAll([item], { requireSession: true, newIds: true });
      expect(created.created).toBe(false);
      expect(await store.exists(item.job.messageId)).toBe(false);
      expect(await redis.exists(keys.unfinished(session))).toBe(0);
      const stream = await new EventLog(redis, keys).after('0', 100000);
      expect(stream.filter((e) => e.event.session === session)).toEqual([]);
    });

    // Issue 8 #13: these pinned a retention counted from creation (the bug): a message queued
    // longer than MESSAGE_RETENTION_DAYS lost its record and was sent later all the same.
    it('gives a queued record and its history no TTL (retention starts at the final status)', async () => {
      const job = await createMessage();

      expect(await redis.ttl(keys.message(job.messageId))).toBe(-1);
      expect(await redis.ttl(keys.messageHistory(job.messageId))).toBe(-1);
    });

    it('keeps a message scheduled far ahead without TTL too', async () => {
      const sendAt = new Date(Date.now() + 400 * 86400_000).toISOString();
      const job = await createMessage({ sendAt });

      expect((await store.get(job.messageId))!.sendAt).toBe(sendAt);
      expect(await redis.ttl(keys.message(job.messageId))).toBe(-1);
    });

    it('indexes a message with expiresAt by that time', async () => {
      const expiresAt = new Date(Date.now() + 60_000).toISOString();
      const job = await createMessage({ expiresAt });

      expect((await store.get(job.messageId))!.expiresAt).toBe(expiresAt);
      expect(Number(await redis.zscore(keys.expiries(), job.messageId))).toBe(
        Date.parse(expiresAt),
      );
    });

    it('returns null for an unknown message', async () => {
      expect(await store.get('no-such-message')).toBeNull();
      expect(await store.exists('no-such-message')).toBe(false);
      expect(await store.status('no-such-message')).toBeNull();
    });
  });

  describe('transition', () => {
    it('applies from an allowed status and returns the previous one', async () => {
      const { messageId } = await createMessage();

      const result = await store.transition(messageId, { to: 'sending', from: ['queued'] });

      expect(result).toMatchObject({ applied: true, previous: 'queued' });
      expect(await store.status(messageId)).toBe('sending');
    });

    it('applies when the status is any one of several allowed ones', async () => {
      const { messageId } = await createMessage();
      await forceStatus(messageId, 'sending');

      const result = await store.transition(messageId, { to: 'sent', from: ['queued', 'sending'] });

      expect(result).toMatchObject({ applied: true, previous: 'sending' });
    });

    it('changes nothing from a status that is not allowed, and reports the current one', async () => {
      const { messageId } = await createMessage();
      const before = await store.get(messageId);

      const result = await store.transition(messageId, {
        to: 'sent',
        from: ['sending'],
        error: { code: 'X', message: 'should not be written' },
        fields: { waMessageId: 'wa-1' },
      });

      expect(result).toMatchObject({ applied: false, previous: 'queued' });
      expect(await store.get(messageId)).toEqual(before);
    });

    it('does not confuse a status with another that contains it', async () => {
      const { messageId } = await createMessage();
      await forceStatus(messageId, 'sent');

      // 'sent' is a substring of 'sending' in a naive comma-list search.
      const result = await store.transition(messageId, { to: 'failed', from: ['sending'] });

      expect(result).toMatchObject({ applied: false, previous: 'sent' });
    });

    it("treats '*' as queued or sending only", async () => {
      for (const from of ['queued', 'sending'] as const) {
        const { messageId } = await createMessage();
        await forceStatus(messageId, from);
        expect(await store.transition(messageId, { to: 'failed', from: '*' })).toMatchObject({
          applied: true,
          previous: from,
        });
      }
      const finalStatuses: MessageStatus[] = [
        'sent',
        'delivered',
        'read',
        'failed',
        'cancelled',
        'expired',
      ];
      for (const status of finalStatuses) {
        const { messageId } = await createMessage();
        await forceStatus(messageId, status);
        expect(await store.transition(messageId, { to: 'failed', from: '*' })).toMatchObject({
          applied: false,
          previous: status,
        });
        expect(await store.status(messageId)).toBe(status);
      }
    });

    it('reports previous null for a missing record and creates nothing', async () => {
      const id = `missing-${randomUUID()}`;

      const result = await store.transition(id, { to: 'cancelled', from: '*' });

      expect(result).toMatchObject({ applied: false, previous: null });
      expect(await redis.exists(keys.message(id), keys.messageHistory(id))).toBe(0);
    });

    it('appends one history entry per applied change, in order', async () => {
      const { messageId } = await createMessage();
      const path: [MessageStatus, MessageStatus][] = [
        ['queued', 'sending'],
        ['sending', 'sent'],
        ['sent', 'delivered'],
        ['delivered', 'read'],
      ];

      for (const [from, to] of path) {
        expect((await store.transition(messageId, { to, from: [from] })).applied).toBe(true);
        // A refused change must not leave a history entry behind.
        expect(
          (await store.transition(messageId, { to: 'cancelled', from: ['queued'] })).applied,
        ).toBe(false);
      }

      const record = await store.get(messageId);
      expect(record!.history.map((h) => h.status)).toEqual([
        'queued',
        'sending',
        'sent',
        'delivered',
        'read',
      ]);
      const times = record!.history.map((h) => Date.parse(h.at));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect(record!.updatedAt).toBe(record!.history[4].at);
    });

    it('sets the error with the change and clears it with null', async () => {
      const { messageId } = await createMessage();
      const error = { code: 'SEND_FAILED', message: 'network hiccup' };

      await store.transition(messageId, { to: 'queued', from: ['queued'], error });
      const failed = await store.get(messageId);
      await store.transition(messageId, { to: 'sending', from: ['queued'] });
      const errorKept = await store.get(messageId);
      await store.transition(messageId, { to: 'sent', from: ['sending'], error: null });
      const cleared = await store.get(messageId);

      expect(failed!.error).toEqual(error);
      expect(failed!.history[1]).toEqual({ status: 'queued', at: expect.any(String), error });
      // `error` left out means "leave it as it is".
      expect(errorKept!.error).toEqual(error);
      expect(cleared!.error).toBeNull();
      expect(cleared!.history[3]).not.toHaveProperty('error');
    });

    it('sets extra fields, and deletes those given null', async () => {
      const { messageId } = await createMessage();
      const sentAt = new Date().toISOString();

      await store.transition(messageId, {
        to: 'sent',
        from: ['queued'],
        fields: { waMessageId: 'true_1@c.us_3EB0AA', sentAt, attempts: 3, readAt: undefined },
      });
      const sent = await store.get(messageId);
      await store.transition(messageId, {
        to: 'queued',
        from: ['sent'],
        fields: { waMessageId: null, sentAt: '' },
      });
      const reset = await store.get(messageId);

      expect(sent).toMatchObject({
        waMessageId: 'true_1@c.us_3EB0AA',
        sentAt,
        attempts: 3,
        readAt: null,
      });
      expect(reset).toMatchObject({ waMessageId: null, sentAt: null, attempts: 3 });
      expect(await redis.hexists(keys.message(messageId), 'waMessageId')).toBe(0);
      expect(await redis.hexists(keys.message(messageId), 'sentAt')).toBe(0);
    });

    it('keeps record, history and send intent without TTL while queued or sending, and sets the retention on all three with the final status', async () => {
      const { messageId } = await createMessage();
      await store.transition(messageId, {
        to: 'sending',
        from: ['queued'],
        intent: { attemptId: 'a1', startedAt: '1' },
      });
      for (const key of [
        keys.message(messageId),
        keys.messageHistory(messageId),
        keys.sendIntent(messageId),
      ]) {
        expect(await redis.ttl(key)).toBe(-1);
      }
      await store.transition(messageId, { to: 'queued', from: ['sending'] });
      expect(await redis.ttl(keys.message(messageId))).toBe(-1);

      await store.transition(messageId, { to: 'sending', from: ['queued'] });
      await store.transition(messageId, { to: 'sent', from: ['sending'] });

      for (const key of [
        keys.message(messageId),
        keys.messageHistory(messageId),
        keys.sendIntent(messageId),
      ]) {
        expect(await redis.ttl(key)).toBeGreaterThan(RETENTION_SECONDS - 5);
        expect(await redis.ttl(key)).toBeLessThanOrEqual(RETENTION_SECONDS);
      }
    });

    it.each(['cancelled', 'failed', 'expired'] as const)(
      'sets the retention when a message becomes %s',
      async (to) => {
        const { messageId } = await createMessage();
        await store.transition(messageId, { to, from: ['queued'] });
        expect(await redis.ttl(keys.message(messageId))).toBeGreaterThan(RETENTION_SECONDS - 5);
        expect(await redis.ttl(keys.messageHistory(messageId))).toBeGreaterThan(
          RETENTION_SECONDS - 5,
        );
      },
    );

    it('drops the creation-time TTL of a record written by an older version on its next change', async () => {
      const { messageId } = await createMessage();
      await redis.expire(keys.message(messageId), 60);
      await redis.expire(keys.messageHistory(messageId), 60);

      await store.transition(messageId, { to: 'sending', from: ['queued'] });

      expect(await redis.ttl(keys.message(messageId))).toBe(-1);
      expect(await redis.ttl(keys.messageHistory(messageId))).toBe(-1);
    });

    describe('ifField: the compare-and-set on the attempt id (issue 8 #11)', () => {
      it('applies only while the field holds the expected value ("" = absent)', async () => {
        const { messageId } = await createMessage();
        const first = await store.transition(messageId, {
          to: 'sending',
          from: ['queued', 'sending'],
          fields: { attemptId: 'a1' },
          ifField: { name: 'attemptId', value: '' },
        });
        expect(first).toMatchObject({ applied: true, fenced: false });

        // A run that started before a1 and woke up late still expects "no attempt".
        const late = await store.transition(messageId, {
          to: 'sending',
          from: ['queued', 'sending'],
          fields: { attemptId: 'late' },
          ifField: { name: 'attemptId', value: '' },
          intent: { attemptId: 'late' },
        });
        expect(late).toMatchObject({ applied: false, fenced: true, previous: 'sending' });
        expect(await redis.hget(keys.message(messageId), 'attemptId')).toBe('a1');
        expect(await redis.exists(keys.sendIntent(messageId))).toBe(0);
        expect(await historyStatuses(messageId)).toEqual(['queued', 'sending']);

        const next = await store.transition(messageId, {
          to: 'sending',
          from: ['queued', 'sending'],
          fields: { attemptId: 'a2' },
          ifField: { name: 'attemptId', value: 'a1' },
        });
        expect(next.applied).toBe(true);
      });

      it('writes and deletes the send intent and increments a counter in the same step', async () => {
        const { messageId } = await createMessage();
        const t = await store.transition(messageId, {
          to: 'sending',
          from: ['queued'],
          intent: { attemptId: 'a1', chatId: '1@c.us' },
          increment: 'crashes',
        });
        expect(t.counter).toBe(1);
        expect(await redis.hgetall(keys.sendIntent(messageId))).toEqual({
          attemptId: 'a1',
          chatId: '1@c.us',
        });
        await store.transition(messageId, { to: 'sent', from: ['sending'], intent: null });
        expect(await redis.exists(keys.sendIntent(messageId))).toBe(0);
      });
    });

    it('lets exactly one of two concurrent changes from queued apply', async () => {
      // A second connection, so the two calls really race inside Redis.
      const other = createRedis(sharedRedisUrl(), 'worker', `${prefix}-b`);
      await waitForReady(other, 5000);
      const otherStore = new MessageStore(
        other,
        keys,
        RETENTION_SECONDS,
        new EventLog(other, keys),
      );
      const winners = { cancelled: 0, sending: 0 };
      try {
        for (let round = 0; round < 200; round++) {
          const { messageId } = await createMessage();

          const cancelling = () =>
            store.transition(messageId, { to: 'cancelled', from: ['queued'] });
          const sending = () =>
            otherStore.transition(messageId, { to: 'sending', from: ['queued'] });
          // Issue them in a random order, so both orders of arrival get tried.
          const [cancel, send] =
            Math.random() < 0.5
              ? await Promise.all([cancelling(), sending()])
              : await Promise.all([sending(), cancelling()]).then(([s, c]) => [c, s]);

          expect([cancel.applied, send.applied].filter(Boolean)).toHaveLength(1);
          const winner: 'cancelled' | 'sending' = cancel.applied ? 'cancelled' : 'sending';
          const loser = cancel.applied ? send : cancel;
          expect(loser.previous).toBe(winner);
          expect(await store.status(messageId)).toBe(winner);
          expect(await historyStatuses(messageId)).toEqual(['queued', winner]);
          winners[winner]++;
        }
      } finally {
        await other.quit();
      }
      // Both sides won some rounds: the race really was run both ways.
      expect(winners.cancelled).toBeGreaterThan(0);
      expect(winners.sending).toBeGreaterThan(0);
    });
  });

  describe('events', () => {
    const eventsOf = async (id: string) =>
      (await new EventLog(redis, keys).after('0', 100000))
        .map((e) => e.event)
        .filter((e) => (e.data as { messageId?: string }).messageId === id);

    it('records `queued` at creation and each status change, with the previous status, once', async () => {
      const { messageId } = await createMessage();
      await store.transition(messageId, { to: 'sending', from: ['queued'] });
      await store.transition(messageId, { to: 'sending', from: ['sending'] }); // no change: no event
      await store.transition(messageId, {
        to: 'sent',
        from: ['sending'],
        fields: { waMessageId: 'wa-ev-1' },
      });
      await store.transition(messageId, { to: 'cancelled', from: ['queued'] }); // refused

      const events = await eventsOf(messageId);
      expect(
        events.map((e) => [
          e.type,
          e.session,
          (e.data as { previous: unknown }).previous,
          (e.data as { status: string }).status,
        ]),
      ).toEqual([
        ['message.status', SESSION_ID, null, 'queued'],
        ['message.status', SESSION_ID, 'queued', 'sending'],
        ['message.status', SESSION_ID, 'sending', 'sent'],
      ]);
      expect(events[2].data).toEqual({
        messageId,
        status: 'sent',
        previous: 'sending',
        to: '+1 555 123 4567',
        waMessageId: 'wa-ev-1',
      });
      expect(new Set(events.map((e) => e.id)).size).toBe(3);
      expect(await redis.llen(keys.messageOutbox(messageId))).toBe(0);
    });

    it('carries the error of a failing change', async () => {
      const { messageId } = await createMessage();
      await store.transition(messageId, {
        to: 'failed',
        from: ['queued'],
        error: { code: 'NOT_ON_WHATSAPP', message: 'no account' },
      });
      const [, failed] = await eventsOf(messageId);
      expect(failed.data).toMatchObject({
        status: 'failed',
        error: { code: 'NOT_ON_WHATSAPP', message: 'no account' },
      });
    });

    onOutboxPath(
      'keeps an acked message in the unfinished index until its event is in the stream',
      async () => {
        const { messageId } = await createMessage();
        await store.transition(messageId, { to: 'sent', from: ['queued'] });
        expect(await redis.zscore(keys.unfinished(SESSION_ID), messageId)).toBeNull();
        // The flush fails (a broken stream key type stands in for Redis failing between steps).
        await redis.rename(keys.eventStream(), `${keys.eventStream()}:aside`);
        await redis.set(keys.eventStream(), 'not a stream');
        try {
          const t = await store.transition(messageId, {
            to: 'delivered',
            from: ['sent'],
            session: SESSION_ID,
          });
          expect(t.applied).toBe(true);
        } finally {
          await redis.del(keys.eventStream());
          await redis.rename(`${keys.eventStream()}:aside`, keys.eventStream());
        }
        // Recorded with its change, still in the outbox, and findable by the consistency check.
        expect(await store.status(messageId)).toBe('delivered');
        expect(await redis.llen(keys.messageOutbox(messageId))).toBe(1);
        expect(await redis.zscore(keys.unfinished(SESSION_ID), messageId)).not.toBeNull();
      },
    );
  });

  /** Makes every XADD to the stream fail (a key of another type), and undoes it after `fn`. */
  async function withBrokenStream(fn: () => Promise<void>): Promise<void> {
    await redis.rename(keys.eventStream(), `${keys.eventStream()}:aside`);
    await redis.set(keys.eventStream(), 'not a stream');
    try {
      await fn();
    } finally {
      await redis.del(keys.eventStream());
      await redis.rename(`${keys.eventStream()}:aside`, keys.eventStream());
    }
  }

  describe('events in the script', () => {
    onInlinePath(
      'changes nothing when the event cannot be appended (the XADD is the first write)',
      async () => {
        const { messageId } = await createMessage();
        await withBrokenStream(async () => {
          await expect(
            store.transition(messageId, { to: 'sending', from: ['queued'], session: SESSION_ID }),
          ).rejects.toThrow();
        });
        const record = await store.get(messageId);
        expect(record!.status).toBe('queued');
        expect(record!.history.map((h) => h.status)).toEqual(['queued']);
        expect(await redis.zscore(keys.unfinished(SESSION_ID), messageId)).not.toBeNull();
      },
    );

    onInlinePath(
      "takes a final message out of its session's unfinished index in the same step, and leaves no outbox",
      async () => {
        const { messageId } = await createMessage();
        expect(await redis.zscore(keys.unfinished(SESSION_ID), messageId)).not.toBeNull();
        await store.transition(messageId, { to: 'sent', from: ['queued'], session: SESSION_ID });
        expect(await redis.zscore(keys.unfinished(SESSION_ID), messageId)).toBeNull();
        // An ack after `sent` does not put it back: its event is in the stream already.
        await store.transition(messageId, { to: 'delivered', from: ['sent'], session: SESSION_ID });
        expect(await redis.zscore(keys.unfinished(SESSION_ID), messageId)).toBeNull();
        expect(await redis.exists(keys.messageOutbox(messageId))).toBe(0);
        // Without the caller naming the session (the gateway's cancel), the index is updated too.
        const other = await createMessage();
        await store.transition(other.messageId, { to: 'cancelled', from: ['queued'] });
        expect(await redis.zscore(keys.unfinished(SESSION_ID), other.messageId)).toBeNull();
      },
    );
  });

  describe('creation in one step (one Redis)', () => {
    /** Top-level commands this connection sends while `fn` runs (MONITOR, script calls left out). */
    async function commandsDuring(fn: () => Promise<void>): Promise<string[]> {
      const base = redis.duplicate();
      const monitor = await base.monitor();
      const seen: string[] = [];
      const name = await redis.client('GETNAME');
      const ours = new Set<string>();
      for (const line of String(await redis.client('LIST')).split('\n'))
        if (line.includes(`name=${String(name)} `)) ours.add(/addr=(\S+)/.exec(line)![1]);
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (ours.has(source)) seen.push(String(args[0]).toLowerCase());
      });
      try {
        await fn();
        await redis.ping();
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        monitor.disconnect();
        base.disconnect();
      }
      return seen.filter((c) => c !== 'ping');
    }

    const sessionId = () => `one-step-${randomUUID()}`;
    const jobsOf = (session: string, n: number, extra: Partial<SendMessageJob> = {}) =>
      Array.from({ length: n }, () => ({
        job: newJob({ sessionId: session, ...extra }),
        to: '+1 555 123 4567',
      }));

    onInlinePath(
      "writes a session's index entries, records, history, queued events and expiries in one command",
      async () => {
        const session = sessionId();
        await redis.hset(keys.session(session), 'id', session);
        const expiresAt = new Date(Date.now() + 60_000).toISOString();
        const items = jobsOf(session, 3, { expiresAt });
        let created = false;
        const commands = await commandsDuring(async () => {
          const result = await store.createAll(items, { requireSession: true });
          await result.settled;
          created = result.created;
        });

        expect(created).toBe(true);
        expect(commands).toEqual(['evalsha']);
        const stream = await new EventLog(redis, keys).after('0', 100000);
        for (const { job } of items) {
          const id = job.messageId;
          expect(await store.get(id)).toMatchObject({ id, status: 'queued', expiresAt });
          expect(await historyStatuses(id)).toEqual(['queued']);
          expect(await redis.zscore(keys.unfinished(session), id)).toBe(
            String(Date.parse(job.createdAt)),
          );
          expect(await redis.zscore(keys.expiries(), id)).toBe(String(Date.parse(expiresAt)));
          expect(await redis.exists(keys.messageOutbox(id))).toBe(0);
        }
        // One `queued` event per message, in the order given.
        const ids = items.map((i) => i.job.messageId);
        expect(
          stream
            .map((e) => e.event)
            .filter((e) => ids.includes((e.data as { messageId: string }).messageId))
            .map((e) => [(e.data as { messageId: string }).messageId, e.session]),
        ).toEqual(ids.map((id) => [id, session]));
      },
    );

    onInlinePath('writes the same record and history as the outbox path', async () => {
      const outboxStore = new MessageStore(
        redis,
        keys,
        RETENTION_SECONDS,
        new EventLog(redis, keys),
        false,
      );
      const extra = {
        sendAt: new Date(Date.now() + 60_000).toISOString(),
        expiresAt: new Date(Date.now() + 120_000).toISOString(),
        priority: 'high' as const,
      };
      const inline = newJob(extra);
      const outbox = { ...inline, messageId: randomUUID() };
      await store.create(inline, '+1 (555) 123-4567');
      await outboxStore.create(outbox, '+1 (555) 123-4567');

      const [a, b] = await Promise.all(
        [inline, outbox].map((j) => redis.hgetall(keys.message(j.messageId))),
      );
      expect({ ...a, id: '' }).toEqual({ ...b, id: '' });
      expect(a.id).toBe(inline.messageId);
      expect(await redis.lrange(keys.messageHistory(inline.messageId), 0, -1)).toEqual(
        await redis.lrange(keys.messageHistory(outbox.messageId), 0, -1),
      );
      expect(await redis.zscore(keys.expiries(), inline.messageId)).toBe(
        await redis.zscore(keys.expiries(), outbox.messageId),
      );
    });

    onInlinePath('writes nothing for a session that does not exist', async () => {
      const session = sessionId();
      const items = jobsOf(session, 2);

      const result = await store.createAll(items, { requireSession: true });

      expect(result.created).toBe(false);
      for (const { job } of items) expect(await redis.exists(keys.message(job.messageId))).toBe(0);
      expect(await redis.exists(keys.unfinished(session))).toBe(0);
      const stream = await new EventLog(redis, keys).after('0', 100000);
      expect(stream.filter((e) => e.event.session === session)).toEqual([]);
    });

    it('indexes a bulk larger than one ZADD chunk whole', async () => {
      const session = sessionId();
      await redis.hset(keys.session(session), 'id', session);
      const items = jobsOf(session, 1200);

      const result = await store.createAll(items, { requireSession: true });
      await result.settled;

      expect(result.created).toBe(true);
      expect(await redis.zcard(keys.unfinished(session))).toBe(1200);
      const last = items[1199].job.messageId;
      expect(await store.status(last)).toBe('queued');
    });
  });

  describe('index: the WhatsApp id with the move to sent', () => {
    const index = (wa: string) => ({
      key: `${prefix}:test-index:{${SESSION_ID}}:${wa}:${inline}`,
      early: `${prefix}:test-early:{${SESSION_ID}}:${wa}:${inline}`,
      ttlSeconds: 60,
    });

    it('indexes in the same step on one Redis and hands back an ack that came first; under Cluster leaves it to the caller', async () => {
      const { messageId } = await createMessage();
      const i = index('wa-index-1');
      await redis.set(i.early, '2');
      const t = await store.transition(messageId, {
        to: 'sent',
        from: ['queued'],
        fields: { waMessageId: 'wa-index-1' },
        session: SESSION_ID,
        index: i,
      });
      expect(t.applied).toBe(true);
      if (inline) {
        expect(t.earlyAck).toBe('2');
        expect(await redis.get(i.key)).toBe(messageId);
        expect(await redis.ttl(i.key)).toBeGreaterThan(0);
      } else {
        expect(t.earlyAck).toBeUndefined();
        expect(await redis.get(i.key)).toBeNull();
      }
    });

    it('indexes nothing when the change does not apply', async () => {
      const { messageId } = await createMessage();
      const i = index('wa-index-2');
      const t = await store.transition(messageId, {
        to: 'sent',
        from: ['queued'],
        fields: { waMessageId: 'wa-index-2' },
        ifField: { name: 'attemptId', value: 'another-run' },
        session: SESSION_ID,
        index: i,
      });
      expect(t).toMatchObject({ applied: false, fenced: true });
      expect(t.earlyAck).toBeUndefined();
      expect(await redis.get(i.key)).toBeNull();
    });
  });

  describe('expiries', () => {
    it('lists due messages oldest first, up to the limit, until forgotten', async () => {
      // A prefix of its own: the other tests also index expiries.
      const expiryKeys = new RedisKeys(`${prefix}-expiries`);
      const expiryStore = new MessageStore(
        redis,
        expiryKeys,
        RETENTION_SECONDS,
        new EventLog(redis, expiryKeys),
      );
      const base = Date.now() + 60_000;
      const ids: string[] = [];
      for (const offset of [2000, 0, 1000]) {
        const job = newJob({ expiresAt: new Date(base + offset).toISOString() });
        await expiryStore.create(job, job.chatId);
        ids[offset / 1000] = job.messageId;
      }
      const [first, second, third] = ids;

      expect(await expiryStore.dueExpiries(base - 1, 10)).toEqual([]);
      expect(await expiryStore.dueExpiries(base, 10)).toEqual([first]);
      expect(await expiryStore.dueExpiries(base + 1500, 10)).toEqual([first, second]);
      expect(await expiryStore.dueExpiries(base + 5000, 2)).toEqual([first, second]);

      await expiryStore.forgetExpiry([first, 'never-indexed']);
      await expiryStore.forgetExpiry([]);

      expect(await expiryStore.dueExpiries(base + 5000, 10)).toEqual([second, third]);
      // Forgetting the expiry leaves the record alone.
      expect(await expiryStore.exists(first)).toBe(true);
      await deleteKeys(redis, `${prefix}-expiries:*`);
    });
  });
});
