import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { EventLog, RedisKeys, type GatewayEvent } from '@app/core';
import { readEvents } from '../../../../test/support/event-stream';
import {
  MessageQueueService,
  MessageStore,
  OutboundQueues,
  outboundQueueName,
  type MessageContent,
  type SendMessageJob,
} from '@app/queue';
import {
  SessionDriver,
  SessionDriverError,
  SessionErrorCode,
  type FindSentOptions,
  type FoundMessage,
  type NumberCheck,
  type OutgoingMessage,
  type ProbeResult,
  type SendResult,
} from '@app/session';
import { sharedRedisUrl, uniquePrefix } from '../../../../test/support/redis-server';
import { waitFor } from '../../../../test/support/wait-for';
import { MessageStatusService } from './message-status.service';
import { NumberChecker } from './number-check';
import type { Pacing } from './pacing';
import { SendProtocol, type SendProtocolOptions } from './send-protocol';
import { SendProcessor, type SessionLink } from './send.processor';

jest.setTimeout(60000);

/** A gate a test opens: the stand-in for a frozen process (SIGSTOP) that wakes up later. */
class Gate {
  private open!: () => void;
  private reached!: () => void;
  readonly opened = new Promise<void>((r) => (this.open = r));
  readonly hit = new Promise<void>((r) => (this.reached = r));
  async pass(): Promise<void> {
    this.reached();
    await this.opened;
  }
  release(): void {
    this.open();
  }
}

interface ServerEntry {
  messageId: string;
  waMessageId: string;
  chatId: string;
  text: string;
  at: string;
  /** In WhatsApp Web's local store, not taken by the server yet (ack 0). */
  pending: boolean;
}

/**
 * WhatsApp's servers as the stub drivers see them. As WhatsApp does (one open client per linked
 * device), a driver opened later supersedes the earlier ones: their sends are refused.
 */
class StubWhatsApp {
  readonly sent: ServerEntry[] = [];
  generation = 0;
  textOf(content: MessageContent): string {
    return content.text ?? content.media?.caption ?? '';
  }
}

/** A controllable driver: gates, canonical ids, crashes, early acks, pending sends. */
class StubDriver extends SessionDriver {
  readonly name = 'simulator' as const;
  readonly generation: number;
  canonical = new Map<string, string>();
  notOnWhatsApp = new Set<string>();
  checkGate: Gate | null = null;
  sendGate: Gate | null = null;
  /** Texts whose send crashes the browser before anything leaves. */
  crashOnText = new Set<string>();
  /** Texts whose send reaches the server, then the browser dies before the result returns. */
  crashAfterSendText = new Set<string>();
  /** Texts that stay in the local store (ack 0), then the browser dies. */
  pendingThenCrashText = new Set<string>();
  /** An ack emitted before send() returns (it arrives before the id is indexed). */
  earlyAck: { status: 'delivered' | 'read'; seen: () => Promise<boolean> } | null = null;
  sendCalls = 0;

  constructor(private readonly server: StubWhatsApp) {
    super();
    this.generation = ++server.generation;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async probe(): Promise<ProbeResult> {
    return { state: 'CONNECTED' };
  }
  async requestPairingCode(): Promise<string> {
    return 'ABCD-EFGH';
  }

  async checkNumber(chatId: string): Promise<NumberCheck> {
    const gate = this.checkGate;
    this.checkGate = null;
    await gate?.pass();
    const number = chatId.split('@')[0];
    if (this.notOnWhatsApp.has(number)) return { chatId, onWhatsApp: false };
    return { chatId: this.canonical.get(chatId) ?? chatId, onWhatsApp: true };
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    this.sendCalls++;
    const gate = this.sendGate;
    this.sendGate = null;
    await gate?.pass();
    if (this.generation !== this.server.generation) {
      throw new SessionDriverError(
        SessionErrorCode.Conflict,
        'session',
        'this client was superseded (CONFLICT): nothing was sent',
      );
    }
    const text = this.server.textOf(message.content);
    if (this.crashOnText.has(text)) {
      throw new SessionDriverError(
        SessionErrorCode.BrowserCrashed,
        'unknown_outcome',
        'Protocol error (Runtime.callFunctionOn): Target closed.',
      );
    }
    const entry: ServerEntry = {
      messageId: message.messageId,
      waMessageId: `true_${message.chatId}_${randomBytes(6).toString('hex')}`,
      chatId: message.chatId,
      text,
      at: new Date().toISOString(),
      pending: this.pendingThenCrashText.has(text),
    };
    this.server.sent.push(entry);
    if (this.crashAfterSendText.has(text) || this.pendingThenCrashText.has(text)) {
      this.crashAfterSendText.delete(text);
      this.pendingThenCrashText.delete(text);
      throw new SessionDriverError(
        SessionErrorCode.BrowserCrashed,
        'unknown_outcome',
        'Protocol error (Runtime.callFunctionOn): Target closed.',
      );
    }
    if (this.earlyAck) {
      const { status, seen } = this.earlyAck;
      this.emit('ack', { waMessageId: entry.waMessageId, status });
      await waitFor('the early ack to be kept', seen, 5000);
    }
    return { waMessageId: entry.waMessageId, at: entry.at };
  }

  /** As the wwebjs driver does: by chat and content, after the attempt, skipping claimed ids. */
  async findSent(
    message: OutgoingMessage,
    opts: FindSentOptions = {},
  ): Promise<FoundMessage | null> {
    const text = this.server.textOf(message.content);
    for (const e of this.server.sent) {
      if (e.chatId !== message.chatId || e.text !== text) continue;
      if (Date.parse(e.at) < message.attemptStartedAt - 5000) continue;
      if (opts.isClaimed && (await opts.isClaimed(e.waMessageId))) continue;
      return { waMessageId: e.waMessageId, at: e.at, ack: e.pending ? 0 : 1, pending: e.pending };
    }
    return null;
  }
}

const SESSION = 'send-spec';
const prefix = uniquePrefix('send-service');
const keys = new RedisKeys(prefix);
const logger = pino({ level: 'silent' });
const MAX_ATTEMPTS = 3;
let redis: Redis;
let messages: MessageStore;
let queues: OutboundQueues;
let producer: MessageQueueService;

/** This worker's lease on the session (set before each test), and another worker's. */
const LEASE_OURS = 'w-spec|1|lease-ours';
const LEASE_OTHER = 'w-other|1|lease-other';

function statusService(): MessageStatusService {
  return new MessageStatusService(redis, keys, messages, 3600);
}

/**
 * The send path's store as it runs under Redis Cluster (events through the outbox, the lease not
 * checked in the move to `sending`: the protocol reads lease and attempt after it), on this Redis.
 */
function clusterStatusService(): MessageStatusService {
  const store = new MessageStore(redis, keys, 3600, new EventLog(redis, keys), false);
  return new MessageStatusService(redis, keys, store, 3600);
}

/** A status service whose move to `sending` first passes `gate` (a run frozen just before it). */
function frozenBeforeSending(gate: Gate, status = statusService()): MessageStatusService {
  const transition = status.transition.bind(status);
  status.transition = async (sessionId, messageId, req) => {
    if (req.to === 'sending' && req.increment === 'attempts') await gate.pass();
    return transition(sessionId, messageId, req);
  };
  return status;
}

/** The send path as the worker wires it: the protocol behind its BullMQ adapter. */
function service(
  extra: Partial<SendProtocolOptions> = {},
  status = statusService(),
): SendProcessor {
  const protocol = new SendProtocol(
    status,
    status,
    new NumberChecker(redis, keys),
    { sendTimeoutMs: 10000, maxAttempts: MAX_ATTEMPTS, workerId: 'w-spec', ...extra },
    logger,
  );
  return new SendProcessor(protocol, logger);
}

/** The session as a runtime holding `lease` links it (its lease check reads Redis). */
function link(
  driver: () => SessionDriver | null,
  holdsLease?: () => Promise<boolean>,
  lease = LEASE_OURS,
): SessionLink {
  const pacing = {
    enabled: false,
    waitMs: async () => 0,
    recordSend: async () => undefined,
  } as unknown as Pacing;
  return {
    sessionId: SESSION,
    queue: queues.get(SESSION),
    pacing,
    readyDriver: driver,
    holdQueue: async () => undefined,
    holdsLease: holdsLease ?? (async () => (await redis.get(keys.lease(SESSION))) === lease),
    leaseFence: { key: keys.lease(SESSION), value: lease },
    noteSend: () => undefined,
  };
}

async function enqueue(
  content: MessageContent,
  // A recipient of its own: number checks are cached per recipient.
  to = `1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}@c.us`,
): Promise<string> {
  const id = `msg_${randomUUID()}`;
  const job: SendMessageJob = {
    messageId: id,
    sessionId: SESSION,
    chatId: to,
    content,
    contentHash: createHash('sha256').update(JSON.stringify(content)).digest('hex'),
    priority: 'normal',
    createdAt: new Date().toISOString(),
  };
  await producer.enqueue({ job, to: to.split('@')[0] });
  return id;
}

/** A BullMQ worker running the send path, as SessionRuntime runs it. */
function consume(svc: SendProcessor, l: SessionLink): Worker {
  const worker = new Worker<SendMessageJob>(
    outboundQueueName(SESSION),
    (job, token) => svc.process(job, token ?? '', l),
    { connection: redis, prefix, concurrency: 1, lockDuration: 5000 },
  );
  worker.on('error', () => undefined);
  return worker;
}

async function record(id: string): Promise<Record<string, string>> {
  return redis.hgetall(keys.message(id));
}

async function statusIs(id: string, ...statuses: string[]): Promise<boolean> {
  return statuses.includes((await record(id)).status);
}

async function scanKeys(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** Every value held under a key, whatever its type, as text. */
async function valueOf(key: string): Promise<string> {
  const type = await redis.type(key);
  switch (type) {
    case 'string':
      return (await redis.get(key)) ?? '';
    case 'hash':
      return JSON.stringify(await redis.hgetall(key));
    case 'list':
      return JSON.stringify(await redis.lrange(key, 0, -1));
    case 'set':
      return JSON.stringify(await redis.smembers(key));
    case 'zset':
      return JSON.stringify(await redis.zrange(key, '0', '-1'));
    case 'stream':
      return JSON.stringify(await redis.xrange(key, '-', '+'));
    default:
      return '';
  }
}

let workers: Worker[] = [];

beforeAll(async () => {
  redis = new Redis(sharedRedisUrl(), { maxRetriesPerRequest: null });
  messages = new MessageStore(redis, keys, 3600, new EventLog(redis, keys));
  queues = new OutboundQueues(redis, prefix);
  producer = new MessageQueueService(queues, messages, {
    maxAttempts: MAX_ATTEMPTS,
    backoffMs: 50,
  });
});

beforeEach(async () => {
  await redis.set(keys.lease(SESSION), LEASE_OURS);
});

afterEach(async () => {
  await Promise.all(workers.map((w) => w.close(true)));
  workers = [];
  await queues.get(SESSION).obliterate({ force: true });
});

afterAll(async () => {
  await queues.close();
  const left = await scanKeys(`${prefix}:*`);
  if (left.length) await redis.unlink(...left);
  await redis.quit();
});

describe('the send path (SendProcessor + SendProtocol) on real Redis and BullMQ, with a controllable driver', () => {
  it('keeps payloads out of finished jobs: no key holds a sent or failed message text or base64 (issue 8 #5)', async () => {
    const server = new StubWhatsApp();
    const driver = new StubDriver(server);
    driver.notOnWhatsApp.add('15559990000');
    const text = `secret text ${randomUUID()}`;
    const base64 = randomBytes(100 * 1024).toString('base64');
    const caption = `secret caption ${randomUUID()}`;
    const sent = await enqueue({ text });
    const media = await enqueue({ media: { base64, mimetype: 'image/png', caption } });
    const failed = await enqueue(
      { text, media: { base64, mimetype: 'image/png' } },
      '15559990000@c.us',
    );
    workers.push(
      consume(
        service(),
        link(() => driver),
      ),
    );
    await waitFor(
      'all three final',
      async () =>
        (await statusIs(sent, 'sent')) &&
        (await statusIs(media, 'sent')) &&
        (await statusIs(failed, 'failed')),
    );
    const queue = queues.get(SESSION);
    await waitFor(
      'the failed job to be failed',
      async () => (await queue.getJobState(failed)) === 'failed',
    );
    await waitFor(
      'the sent jobs to be removed',
      async () =>
        (await queue.getJob(sent)) === undefined && (await queue.getJob(media)) === undefined,
    );

    const all = await scanKeys(`${prefix}:*`);
    expect(all.some((k) => k.includes('out.{send-spec}'))).toBe(true);
    expect(all.some((k) => k === keys.message(failed))).toBe(true);
    const needles = [text, caption, base64.slice(0, 64), base64.slice(-64)];
    for (const key of all) {
      const value = await valueOf(key);
      for (const needle of needles) {
        if (value.includes(needle)) throw new Error(`key ${key} still holds message content`);
      }
    }
    // Bull Board still shows the failed job, its reason and recipient, without the content.
    const job = await queue.getJob(failed);
    expect(job?.failedReason).toMatch(/NOT_ON_WHATSAPP/);
    expect(job?.data).toMatchObject({ chatId: '15559990000@c.us', content: {} });
  });

  it('sends and reconciles in the canonical chat the number check returned, cached or not: sent once across an unknown outcome (issue 8 #9)', async () => {
    const server = new StubWhatsApp();
    const driver = new StubDriver(server);
    // Brazil's ninth digit: WhatsApp knows this number under another id.
    driver.canonical.set('5511912345678@c.us', '551112345678@c.us');
    driver.crashAfterSendText.add('first');
    const first = await enqueue({ text: 'first' }, '5511912345678@c.us');
    workers.push(
      consume(
        service(),
        link(() => driver),
      ),
    );
    await waitFor('first sent', () => statusIs(first, 'sent'));
    const second = await enqueue({ text: 'second' }, '5511912345678@c.us');
    await waitFor('second sent', () => statusIs(second, 'sent'));

    expect(server.sent.map((e) => [e.text, e.chatId])).toEqual([
      ['first', '551112345678@c.us'],
      ['second', '551112345678@c.us'],
    ]);
    expect((await record(first)).chatId).toBe('551112345678@c.us');
    expect((await record(first)).waMessageId).toBe(server.sent[0].waMessageId);
    expect((await record(second)).chatId).toBe('551112345678@c.us');
  });

  it('applies an ack that arrived before send() returned: the record ends read (issue 8 #12)', async () => {
    const server = new StubWhatsApp();
    const driver = new StubDriver(server);
    const status = statusService();
    const svc = service({}, status);
    driver.on('ack', (ev) => void status.applyAck(SESSION, ev));
    driver.earlyAck = {
      status: 'read',
      seen: async () => (await scanKeys(`${prefix}:session:{${SESSION}}:early-ack:*`)).length > 0,
    };
    const id = await enqueue({ text: 'read before sent' });
    workers.push(
      consume(
        svc,
        link(() => driver),
      ),
    );
    await waitFor('read', () => statusIs(id, 'read'));
    expect((await record(id)).waMessageId).toBe(server.sent[0].waMessageId);
    expect(await scanKeys(`${prefix}:session:{${SESSION}}:early-ack:*`)).toEqual([]);
  });

  it('records every status change as a message.status event in the event stream: queued → sending → sent → delivered → read', async () => {
    const server = new StubWhatsApp();
    const driver = new StubDriver(server);
    const status = statusService();
    driver.on('ack', (ev) => void status.applyAck(SESSION, ev));
    const id = await enqueue({ text: 'watch me' });
    workers.push(
      consume(
        service({}, status),
        link(() => driver),
      ),
    );
    await waitFor('sent', () => statusIs(id, 'sent', 'delivered', 'read'));
    const waMessageId = server.sent[0].waMessageId;
    driver.emit('ack', { waMessageId, status: 'delivered' });
    await waitFor('delivered', () => statusIs(id, 'delivered'));
    driver.emit('ack', { waMessageId, status: 'read' });
    const ofMessage = async () =>
      (await readEvents(redis, keys)).filter(
        (e) => e.type === 'message.status' && (e.data as { messageId: string }).messageId === id,
      ) as GatewayEvent<Record<string, unknown>>[];
    await waitFor('the read event', async () =>
      (await ofMessage()).some((e) => e.data.status === 'read'),
    );

    const events = await ofMessage();
    expect(events.map((e) => [e.data.previous, e.data.status])).toEqual([
      [null, 'queued'],
      ['queued', 'sending'],
      ['sending', 'sent'],
      ['sent', 'delivered'],
      ['delivered', 'read'],
    ]);
    for (const e of events) expect(e.session).toBe(SESSION);
    expect(new Set(events.map((e) => e.id)).size).toBe(5);
    expect(events[2].data.waMessageId).toBe(waMessageId);
    expect(events[4].data).toEqual({
      messageId: id,
      status: 'read',
      previous: 'delivered',
      to: expect.any(String),
      waMessageId,
    });
    // Every event left its outbox, and the acked message left the unfinished index again.
    expect(await redis.llen(keys.messageOutbox(id))).toBe(0);
    expect(await redis.zscore(keys.unfinished(SESSION), id)).toBeNull();
  });

  it('fails a message whose send crashes the browser every time after MESSAGE_MAX_ATTEMPTS crashes, and sends the next (issue 8 #18)', async () => {
    const server = new StubWhatsApp();
    const driver = new StubDriver(server);
    driver.crashOnText.add('boom');
    const boom = await enqueue({ text: 'boom' });
    const next = await enqueue({ text: 'after the boom' });
    workers.push(
      consume(
        service(),
        link(() => driver),
      ),
    );
    await waitFor('the next message sent', () => statusIs(next, 'sent'), 30000);

    const r = await record(boom);
    expect(r.status).toBe('failed');
    expect(JSON.parse(r.error)).toMatchObject({ code: 'SEND_CRASHED_SESSION' });
    expect(Number(r.crashes)).toBe(MAX_ATTEMPTS);
    expect(driver.sendCalls).toBe(MAX_ATTEMPTS + 1);
    expect(server.sent.map((e) => e.text)).toEqual(['after the boom']);
  });

  it('a message found pending in the local store (ack 0) is neither resent nor marked sent; once the server has it, it is sent, with no attempt used (issue 8 #22)', async () => {
    const server = new StubWhatsApp();
    const driver = new StubDriver(server);
    driver.pendingThenCrashText.add('in the local store');
    const id = await enqueue({ text: 'in the local store' });
    workers.push(
      consume(
        service({ pendingRecheckMs: 100 }),
        link(() => driver),
      ),
    );
    const queue = queues.get(SESSION);
    await waitFor(
      'the job delayed for a re-check',
      async () => (await queue.getJobState(id)) === 'delayed',
    );
    expect((await record(id)).status).toBe('sending');
    await waitFor('a re-check', async () => (await queue.getJobState(id)) === 'delayed');

    server.sent[0].pending = false; // WhatsApp Web's store sent it: the server acks
    await waitFor('sent', () => statusIs(id, 'sent'));
    expect(server.sent).toHaveLength(1);
    expect((await record(id)).waMessageId).toBe(server.sent[0].waMessageId);
    const job = await Job.fromId(queue, id);
    expect(job?.attemptsMade ?? 0).toBe(0);
  });

  it('fails a message still pending past the bound, without resending it (issue 8 #22)', async () => {
    const server = new StubWhatsApp();
    const driver = new StubDriver(server);
    driver.pendingThenCrashText.add('never leaves');
    const id = await enqueue({ text: 'never leaves' });
    workers.push(
      consume(
        service({ pendingRecheckMs: 50, pendingBoundMs: 300 }),
        link(() => driver),
      ),
    );
    await waitFor('failed', () => statusIs(id, 'failed'));
    expect(JSON.parse((await record(id)).error)).toMatchObject({ code: 'SEND_UNCONFIRMED' });
    expect(server.sent).toHaveLength(1);
  });

  describe('fencing: a run that wakes up late loses to the run that took over (issue 8 #11)', () => {
    /** Runs process() on the stored job as a worker would (the token is that run's lock). */
    async function run(svc: SendProcessor, l: SessionLink, id: string) {
      const job = (await Job.fromId<SendMessageJob>(queues.get(SESSION), id))!;
      return svc.process(job, `token-${randomUUID()}`, l).catch((err: Error) => err);
    }

    it('frozen between reading the record and the move to sending: the late run does not send', async () => {
      const server = new StubWhatsApp();
      const old = new StubDriver(server);
      const id = await enqueue({ text: 'window one' });
      old.checkGate = new Gate();
      const gate = old.checkGate;
      const late = run(
        service(),
        link(() => old),
        id,
      );
      await gate.hit; // A read the record (no attempt yet), then froze in the number check

      const fresh = new StubDriver(server);
      const freshGate = new Gate();
      fresh.sendGate = freshGate;
      const taking = run(
        service(),
        link(() => fresh),
        id,
      );
      await freshGate.hit; // B moved to sending and is in its driver call

      gate.release();
      expect(await late).toMatchObject({ name: 'WaitingError' });
      const r = await record(id);
      expect(r.status).toBe('sending');
      expect(await redis.hget(keys.sendIntent(id), 'attemptId')).toBe(r.attemptId);

      expect(old.sendCalls).toBe(0);

      freshGate.release();
      expect(await taking).toMatchObject({ result: 'sent' });
      expect(server.sent.map((e) => e.text)).toEqual(['window one']);
      expect((await record(id)).status).toBe('sent');
    });

    it('one Redis: frozen just before its move to sending (the last check before the driver call): the late run does not send', async () => {
      const server = new StubWhatsApp();
      const old = new StubDriver(server);
      const id = await enqueue({ text: 'window two' });
      const frozen = new Gate();
      const late = run(
        service({}, frozenBeforeSending(frozen)),
        link(() => old),
        id,
      );
      await frozen.hit; // A checked the number, then froze before its move to sending

      const fresh = new StubDriver(server);
      const freshGate = new Gate();
      fresh.sendGate = freshGate;
      const taking = run(
        service(),
        link(() => fresh),
        id,
      );
      await freshGate.hit; // B moved to sending and is in its driver call
      const bAttempt = (await record(id)).attemptId;

      frozen.release(); // A's move (and so its send) is refused: the attempt is B's
      expect(await late).toMatchObject({ name: 'WaitingError' });
      expect(old.sendCalls).toBe(0);
      expect(await record(id)).toMatchObject({ status: 'sending', attemptId: bAttempt });
      expect(await redis.hget(keys.sendIntent(id), 'attemptId')).toBe(bAttempt);

      freshGate.release();
      expect(await taking).toMatchObject({ result: 'sent', reconciled: false });
      expect(server.sent.map((e) => e.text)).toEqual(['window two']);
      expect((await record(id)).status).toBe('sent');
    });

    it('Cluster: frozen between the move to sending and the driver call (in the lease check): the late run does not send', async () => {
      const server = new StubWhatsApp();
      const old = new StubDriver(server);
      const id = await enqueue({ text: 'window two (Cluster)' });
      const frozen = new Gate();
      const late = run(
        service({}, clusterStatusService()),
        link(
          () => old,
          async () => {
            await frozen.pass(); // A moved to sending, then froze in its lease check
            return true;
          },
        ),
        id,
      );
      await frozen.hit;
      const aAttempt = (await record(id)).attemptId;
      expect(aAttempt).toBeTruthy();

      const fresh = new StubDriver(server);
      const outcome = await run(
        service({}, clusterStatusService()),
        link(() => fresh),
        id,
      );
      expect(outcome).toMatchObject({ result: 'sent', reconciled: false });
      expect((await record(id)).attemptId).not.toBe(aAttempt);

      frozen.release();
      expect(await late).toMatchObject({ name: 'WaitingError' });
      expect(old.sendCalls).toBe(0);
      expect(server.sent.map((e) => e.text)).toEqual(['window two (Cluster)']);
      expect((await record(id)).status).toBe('sent');
    });

    it.each([
      ['one Redis', statusService],
      ['Cluster', clusterStatusService],
    ])(
      '%s: a run whose lease was taken over before its move to sending does not send and leaves the record to the new owner',
      async (path, makeStatus) => {
        const server = new StubWhatsApp();
        const old = new StubDriver(server);
        const id = await enqueue({ text: `lease taken over (${path})` });
        const frozen = new Gate();
        const late = run(
          service({}, frozenBeforeSending(frozen, makeStatus())),
          link(() => old),
          id,
        );
        await frozen.hit; // A froze before its move; meanwhile its lease lapsed
        await redis.set(keys.lease(SESSION), LEASE_OTHER); // another worker claimed the session

        frozen.release();
        expect(await late).toMatchObject({ name: 'WaitingError' });
        expect(old.sendCalls).toBe(0);
        const left = await record(id);
        expect(left.status).toBe('queued');
        expect(await redis.exists(keys.sendIntent(id))).toBe(0);
        if (path === 'one Redis') {
          // Refused before any write: not even an attempt counted or an attempt id set.
          expect(left).toMatchObject({ attempts: '0' });
          expect(left.attemptId).toBeUndefined();
        }

        // The new owner sends it, once.
        const fresh = new StubDriver(server);
        expect(
          await run(
            service({}, makeStatus()),
            link(() => fresh, undefined, LEASE_OTHER),
            id,
          ),
        ).toMatchObject({ result: 'sent', reconciled: false });
        expect(server.sent.map((e) => e.text)).toEqual([`lease taken over (${path})`]);
        expect(old.sendCalls).toBe(0);
      },
    );

    it('frozen during the driver call: the late run neither clobbers the new attempt nor its intent', async () => {
      const server = new StubWhatsApp();
      const old = new StubDriver(server);
      const id = await enqueue({ text: 'window three' });
      old.sendGate = new Gate();
      const oldGate = old.sendGate;
      const late = run(
        service(),
        link(() => old),
        id,
      );
      await oldGate.hit; // A is in its driver call, frozen

      const fresh = new StubDriver(server); // the new owner opens the account: A is superseded
      fresh.sendGate = new Gate();
      const freshGate = fresh.sendGate;
      const taking = run(
        service(),
        link(() => fresh),
        id,
      );
      await freshGate.hit; // B reconciled (nothing sent yet) and is in its own driver call
      const bAttempt = (await record(id)).attemptId;

      oldGate.release(); // A wakes: its send is refused (superseded client)
      expect(await late).toMatchObject({ name: 'WaitingError' });
      expect(await record(id)).toMatchObject({ status: 'sending', attemptId: bAttempt });
      expect(await redis.hget(keys.sendIntent(id), 'attemptId')).toBe(bAttempt);

      freshGate.release();
      expect(await taking).toMatchObject({ result: 'sent' });
      expect(server.sent.map((e) => e.text)).toEqual(['window three']);
      expect((await record(id)).status).toBe('sent');
    });
  });
});
