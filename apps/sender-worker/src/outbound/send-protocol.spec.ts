import pino from 'pino';
import type {
  MessageError,
  MessageStatus,
  SendMessageJob,
  TransitionRequest,
  TransitionResult,
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
import type { RecordSnapshot, SendIntent } from './message-status.service';
import {
  SendProtocol,
  type MessageRecords,
  type SendIntents,
  type SendOutcome,
  type SendProtocolOptions,
  type SendSession,
} from './send-protocol';

/*
 * The send protocol across its failure matrix, without Redis or BullMQ: the record store, the
 * session and the driver are in-memory stand-ins that keep the same rules as the real ones
 * (the record's compare-and-set on status and attempt id, with the intent in the same step).
 * The same protocol on the real Redis and BullMQ: send.processor.int-spec.ts.
 */

const SESSION = 'unit';
const MAX_ATTEMPTS = 3;
const CHAT = '15550001111@c.us';

interface StoredRecord {
  status: MessageStatus;
  attemptId?: string;
  chatId: string;
  crashes: number;
  attempts: number;
  error: MessageError | null;
  waMessageId?: string;
  sentAt?: string;
}

/** The message records and send intents, with MessageStore.transition's rules. */
class InMemoryRecords implements MessageRecords, SendIntents {
  readonly records = new Map<string, StoredRecord>();
  readonly intents = new Map<string, Record<string, string>>();
  readonly waIndex = new Map<string, string>();
  readonly expiries = new Set<string>();
  readonly applied: { id: string; to: MessageStatus; previous: MessageStatus }[] = [];
  /** Runs before a transition to `to` is judged: lets a test make another run take over. */
  readonly before = new Map<MessageStatus, () => void>();
  /** Runs before the last attempt check (between the lease check and the driver call). */
  beforeAttemptCheck: (() => void) | null = null;
  /**
   * One Redis: a transition given `lease` checks it in its own step (MessageStore's 7-key
   * script). False: Redis Cluster, where it is ignored and the protocol checks after the move.
   */
  checksLease = true;
  /** Whether the lease a transition names is current (the session's, in these specs). */
  leaseCurrent: () => boolean = () => true;

  put(id: string, r: Partial<StoredRecord> = {}): void {
    this.records.set(id, {
      status: 'queued',
      chatId: CHAT,
      crashes: 0,
      attempts: 0,
      error: null,
      ...r,
    });
  }

  /** Another run of the same message moved on (it owns a new attempt). */
  takeOver(id: string, attemptId = 'the-other-run'): void {
    this.records.get(id)!.attemptId = attemptId;
  }

  async read(id: string): Promise<RecordSnapshot> {
    const r = this.records.get(id);
    return {
      status: r?.status ?? null,
      attemptId: r?.attemptId ?? null,
      chatId: r?.chatId ?? null,
      crashes: r?.crashes ?? 0,
      intent: this.openIntent(id),
    };
  }

  async attemptOf(id: string): Promise<string | null> {
    this.beforeAttemptCheck?.();
    return this.records.get(id)?.attemptId ?? null;
  }

  async recreate(job: SendMessageJob): Promise<void> {
    this.put(job.messageId, { chatId: job.chatId });
  }

  async transition(_s: string, id: string, req: TransitionRequest): Promise<TransitionResult> {
    this.before.get(req.to)?.();
    const r = this.records.get(id);
    if (!r) return { applied: false, previous: null, fenced: false, counter: 0 };
    const from = req.from === '*' ? ['queued', 'sending'] : req.from;
    if (!from.includes(r.status)) {
      return { applied: false, previous: r.status, fenced: false, counter: 0 };
    }
    if (req.ifField) {
      const value = (r as unknown as Record<string, string | number | undefined>)[req.ifField.name];
      const have = value === undefined ? '' : String(value);
      if (have !== req.ifField.value) {
        return { applied: false, previous: r.status, fenced: true, counter: 0 };
      }
    }
    const leaseChecked = !!req.lease && this.checksLease;
    if (leaseChecked && !this.leaseCurrent()) {
      return { applied: false, previous: r.status, fenced: false, counter: 0, leaseLost: true };
    }
    const previous = r.status;
    r.status = req.to;
    if (req.error !== undefined) r.error = req.error;
    for (const [k, v] of Object.entries(req.fields ?? {})) {
      if (v === undefined) continue;
      (r as unknown as Record<string, unknown>)[k] = v === null || v === '' ? undefined : v;
    }
    let counter = 0;
    if (req.increment === 'attempts') counter = ++r.attempts;
    if (req.increment === 'crashes') counter = ++r.crashes;
    if (req.intent === null) this.intents.delete(id);
    else if (req.intent) this.intents.set(id, { ...req.intent });
    this.applied.push({ id, to: req.to, previous });
    return {
      applied: true,
      previous,
      fenced: false,
      counter,
      ...(leaseChecked ? { leaseChecked } : {}),
    };
  }

  async forgetExpiry(id: string): Promise<void> {
    this.expiries.delete(id);
  }

  async markSent(
    sessionId: string,
    id: string,
    waMessageId: string,
    req: TransitionRequest,
  ): Promise<TransitionResult> {
    const t = await this.transition(sessionId, id, req);
    if (!t.fenced) this.waIndex.set(`${sessionId}:${waMessageId}`, id);
    return t;
  }

  private openIntent(id: string): SendIntent | null {
    const i = this.intents.get(id);
    if (!i?.attemptId) return null;
    return {
      attemptId: i.attemptId,
      startedAt: i.startedAt ? Number(i.startedAt) : null,
      chatId: i.chatId || null,
    };
  }

  async ownerOf(sessionId: string, waMessageId: string): Promise<string | null> {
    return this.waIndex.get(`${sessionId}:${waMessageId}`) ?? null;
  }
}

/** Never settles: a hung page. */
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/** A driver whose every answer the test decides. */
class StubDriver extends SessionDriver {
  readonly name = 'simulator' as const;
  readonly sends: OutgoingMessage[] = [];
  numberCheck: (chatId: string) => Promise<NumberCheck> = async (chatId) => ({
    chatId,
    onWhatsApp: true,
  });
  sendResult: (m: OutgoingMessage) => Promise<SendResult> = async () => ({
    waMessageId: `wa-${this.sends.length}`,
    at: new Date().toISOString(),
  });
  found: (m: OutgoingMessage, opts: FindSentOptions) => Promise<FoundMessage | null> = async () =>
    null;
  findSentCalls = 0;

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async probe(): Promise<ProbeResult> {
    return { state: 'CONNECTED' };
  }
  async requestPairingCode(): Promise<string> {
    return 'ABCD-EFGH';
  }
  checkNumber(chatId: string): Promise<NumberCheck> {
    return this.numberCheck(chatId);
  }
  send(message: OutgoingMessage): Promise<SendResult> {
    this.sends.push(message);
    return this.sendResult(message);
  }
  findSent(message: OutgoingMessage, opts: FindSentOptions = {}): Promise<FoundMessage | null> {
    this.findSentCalls++;
    return this.found(message, opts);
  }
}

class FakeSession implements SendSession {
  readonly sessionId = SESSION;
  wait = 0;
  readonly paced: string[] = [];
  readonly noted: ({ ok: true } | { ok: false; code: string })[] = [];
  lease = true;
  readonly leaseFence = { key: 'lease', value: 'this-worker' };
  readonly pacing = {
    waitMs: async () => this.wait,
    recordSend: async (messageId: string) => void this.paced.push(messageId),
  };

  constructor(public driver: StubDriver | null) {}

  readyDriver(): SessionDriver | null {
    return this.driver;
  }
  async holdsLease(): Promise<boolean> {
    return this.lease;
  }
  noteSend(outcome: { ok: true } | { ok: false; code: string }): void {
    this.noted.push(outcome);
  }
}

let records: InMemoryRecords;
let driver: StubDriver;
let session: FakeSession;
let protocol: SendProtocol;
let seq = 0;

function makeProtocol(extra: Partial<SendProtocolOptions> = {}): SendProtocol {
  // Numbers are not cached here: the cache is NumberChecker's (number-check.ts).
  const numbers = {
    check: (_s: string, chatId: string, d: SessionDriver) => d.checkNumber(chatId),
  };
  return new SendProtocol(
    records,
    records,
    numbers,
    { sendTimeoutMs: 200, maxAttempts: MAX_ATTEMPTS, workerId: 'w-unit', ...extra },
    pino({ level: 'silent' }),
  );
}

/** A job (and its record, unless told otherwise) for a new message. */
function job(extra: Partial<SendMessageJob> = {}, record: Partial<StoredRecord> | null = {}) {
  const data: SendMessageJob = {
    messageId: `msg_${++seq}`,
    sessionId: SESSION,
    chatId: CHAT,
    content: { text: 'hello' },
    contentHash: 'hash',
    priority: 'normal',
    createdAt: new Date().toISOString(),
    version: 2,
    ...extra,
  };
  if (record) records.put(data.messageId, { chatId: data.chatId, ...record });
  // As MessageStore.create: only a message with an expiresAt is in the expiry index.
  if (record && data.expiresAt) records.expiries.add(data.messageId);
  return data;
}

/** The record of a message whose earlier attempt left an open intent (it may have sent). */
function afterUnknownOutcome(
  extra: Partial<StoredRecord> = {},
  intent: Partial<Record<string, string>> = {},
) {
  const data = job({}, { status: 'sending', attemptId: 'earlier', attempts: 1, ...extra });
  records.intents.set(data.messageId, {
    attemptId: 'earlier',
    startedAt: String(Date.now() - 1000),
    chatId: CHAT,
    ...intent,
  });
  return data;
}

function run(data: SendMessageJob, attemptsMade = 0): Promise<SendOutcome> {
  return protocol.run(data, attemptsMade, session);
}

function rec(data: SendMessageJob): StoredRecord {
  return records.records.get(data.messageId)!;
}

function sendFails(err: unknown): void {
  driver.sendResult = async () => {
    throw err;
  };
}

beforeEach(() => {
  records = new InMemoryRecords();
  driver = new StubDriver();
  session = new FakeSession(driver);
  records.leaseCurrent = () => session.lease;
  protocol = makeProtocol();
});

describe('SendProtocol: a send that goes through', () => {
  it('sends once, records sent with the WhatsApp id, drops the intent, indexes the id, paces', async () => {
    const data = job({ expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    expect(records.expiries.has(data.messageId)).toBe(true);
    expect(await run(data)).toEqual({ kind: 'sent', waMessageId: 'wa-1' });
    expect(driver.sends).toHaveLength(1);
    expect(rec(data)).toMatchObject({ status: 'sent', waMessageId: 'wa-1', attempts: 1 });
    expect(records.intents.has(data.messageId)).toBe(false);
    expect(await records.ownerOf(SESSION, 'wa-1')).toBe(data.messageId);
    expect(records.expiries.has(data.messageId)).toBe(false);
    expect(session.paced).toEqual([data.messageId]);
    expect(session.noted).toEqual([{ ok: true }]);
    expect(records.applied.map((a) => a.to)).toEqual(['sending', 'sent']);
  });

  it('writes the intent with the move to sending, before the driver is called', async () => {
    const data = job();
    let intentAtSend: Record<string, string> | undefined;
    driver.sendResult = async (m) => {
      intentAtSend = records.intents.get(m.messageId);
      return { waMessageId: 'wa-x', at: new Date().toISOString() };
    };
    await run(data);
    expect(intentAtSend).toMatchObject({ chatId: CHAT, contentHash: 'hash', workerId: 'w-unit' });
    expect(intentAtSend!.attemptId).toBe(rec(data).attemptId);
  });

  it.each(['sent', 'delivered', 'read', 'failed', 'cancelled', 'expired'] as const)(
    'skips a message already %s: nothing is sent, the record is untouched',
    async (status) => {
      const data = job({}, { status });
      expect(await run(data)).toEqual({ kind: 'skipped', status });
      expect(driver.sends).toHaveLength(0);
      expect(records.applied).toEqual([]);
    },
  );

  it('drops a job whose record was removed (current job version): nothing is sent', async () => {
    const data = job({}, null);
    expect(await run(data)).toEqual({ kind: 'skipped', status: 'missing' });
    expect(driver.sends).toHaveLength(0);
  });

  it('recreates the record of an older job version whose record expired, then sends it', async () => {
    const data = job({ version: undefined }, null);
    expect(await run(data)).toMatchObject({ kind: 'sent' });
    expect(rec(data).status).toBe('sent');
  });
});

describe('SendProtocol: before the send', () => {
  it('waits, without touching the record, while the session is not ready', async () => {
    session.driver = null;
    const data = job();
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'not-ready' });
    expect(records.applied).toEqual([]);
  });

  it('expires a message whose expiresAt passed: EXPIRED, not sent, out of the expiry index', async () => {
    const data = job({ expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect(await run(data)).toEqual({ kind: 'skipped', status: 'expired' });
    expect(rec(data)).toMatchObject({ status: 'expired', error: { code: 'EXPIRED' } });
    expect(records.expiries.has(data.messageId)).toBe(false);
    expect(driver.sends).toHaveLength(0);
  });

  it('hands a pacing wait to the queue: rate-limited, before any number check or record change', async () => {
    session.wait = 1500;
    let checked = false;
    driver.numberCheck = async (chatId) => {
      checked = true;
      return { chatId, onWhatsApp: true };
    };
    const data = job();
    expect(await run(data)).toEqual({ kind: 'rate-limited', ms: 1500 });
    expect(checked).toBe(false);
    expect(records.applied).toEqual([]);
    expect(session.paced).toEqual([]);
  });

  it("sends to WhatsApp's canonical chat id, and keeps it on the record and in the intent", async () => {
    driver.numberCheck = async () => ({ chatId: '551112345678@c.us', onWhatsApp: true });
    let intentChat: string | undefined;
    driver.sendResult = async (m) => {
      intentChat = records.intents.get(m.messageId)?.chatId;
      return { waMessageId: 'wa-br', at: new Date().toISOString() };
    };
    const data = job({ chatId: '5511912345678@c.us' });
    expect(await run(data)).toMatchObject({ kind: 'sent' });
    expect(driver.sends[0].chatId).toBe('551112345678@c.us');
    expect(intentChat).toBe('551112345678@c.us');
    expect(rec(data).chatId).toBe('551112345678@c.us');
  });

  it('fails a number that is not on WhatsApp: NOT_ON_WHATSAPP, permanent, never sent', async () => {
    driver.numberCheck = async (chatId) => ({ chatId, onWhatsApp: false });
    const data = job();
    const outcome = await run(data);
    expect(outcome).toMatchObject({ kind: 'fail', error: { code: 'NOT_ON_WHATSAPP' } });
    expect(rec(data)).toMatchObject({ status: 'failed', error: { code: 'NOT_ON_WHATSAPP' } });
    expect(driver.sends).toHaveLength(0);
  });

  it('a number check that does not answer is a session failure: wait, no attempt, not sent', async () => {
    driver.numberCheck = never;
    const data = job();
    expect(await run(data)).toMatchObject({
      kind: 'wait',
      reason: 'session',
      error: { code: 'NUMBER_CHECK_TIMEOUT' },
    });
    expect(rec(data)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(driver.sends).toHaveLength(0);
  });

  it('a number check that hits a dead page is a session failure, not an attempt', async () => {
    driver.numberCheck = async () => {
      throw new Error('Protocol error (Runtime.callFunctionOn): Target closed.');
    };
    expect(await run(job())).toMatchObject({
      kind: 'wait',
      reason: 'session',
      error: { code: 'BROWSER_CRASHED', failure: 'session' },
    });
  });
});

describe('SendProtocol: failures of the send, by class', () => {
  it('permanent: fails the message with its code, drops the intent', async () => {
    sendFails(new SessionDriverError(SessionErrorCode.InvalidMedia, 'permanent', 'bad media'));
    const data = job();
    expect(await run(data)).toMatchObject({ kind: 'fail', error: { code: 'INVALID_MEDIA' } });
    expect(rec(data)).toMatchObject({ status: 'failed', error: { code: 'INVALID_MEDIA' } });
    expect(records.intents.has(data.messageId)).toBe(false);
  });

  it('retryable: back to queued with the error, an attempt used, the breaker told', async () => {
    sendFails(new Error('something WhatsApp did not like'));
    const data = job();
    expect(await run(data, 0)).toMatchObject({
      kind: 'retry',
      error: { code: 'SEND_FAILED', failure: 'retryable' },
    });
    expect(rec(data)).toMatchObject({ status: 'queued', error: { code: 'SEND_FAILED' } });
    expect(records.intents.has(data.messageId)).toBe(false);
    expect(session.noted).toEqual([{ ok: false, code: 'SEND_FAILED' }]);
  });

  it('retryable on the last attempt: fails the message', async () => {
    sendFails(new Error('still not'));
    const data = job();
    expect(await run(data, MAX_ATTEMPTS - 1)).toMatchObject({
      kind: 'fail',
      error: { code: 'SEND_FAILED' },
    });
    expect(rec(data)).toMatchObject({ status: 'failed', error: { code: 'SEND_FAILED' } });
  });

  it('session: back to queued, intent dropped (the driver refused before sending), wait', async () => {
    sendFails(
      new SessionDriverError(SessionErrorCode.SessionNotReady, 'session', 'not ready after all'),
    );
    const data = job();
    expect(await run(data)).toMatchObject({
      kind: 'wait',
      reason: 'session',
      error: { code: 'SESSION_NOT_READY' },
    });
    expect(rec(data).status).toBe('queued');
    expect(records.intents.has(data.messageId)).toBe(false);
    expect(session.noted).toEqual([]);
  });

  it('unknown outcome (browser died mid-send): intent kept, a crash counted, wait for recovery', async () => {
    sendFails(new Error('Protocol error (Runtime.callFunctionOn): Target closed.'));
    const data = job();
    const outcome = await run(data);
    expect(outcome).toMatchObject({
      kind: 'wait',
      reason: 'session',
      error: { code: 'BROWSER_CRASHED', failure: 'unknown_outcome' },
    });
    // The loss names the driver it happened on: one replaced since is not a new loss.
    expect(outcome.kind === 'wait' && outcome.reason === 'session' && outcome.driver).toBe(driver);
    expect(rec(data)).toMatchObject({ status: 'sending', crashes: 1 });
    expect(records.intents.get(data.messageId)?.attemptId).toBe(rec(data).attemptId);
  });

  it('unknown outcome by SEND_TIMEOUT (a hung send): a crash counted, intent kept', async () => {
    driver.sendResult = never;
    const data = job();
    expect(await run(data)).toMatchObject({
      kind: 'wait',
      reason: 'session',
      error: { code: 'SEND_TIMEOUT' },
    });
    expect(rec(data)).toMatchObject({ status: 'sending', crashes: 1 });
    expect(records.intents.has(data.messageId)).toBe(true);
  });

  it('unknown outcome by CONFLICT (another client took the account): not counted as a crash', async () => {
    sendFails(new SessionDriverError(SessionErrorCode.Conflict, 'unknown_outcome', 'superseded'));
    const data = job();
    expect(await run(data)).toMatchObject({ kind: 'wait', reason: 'session' });
    expect(rec(data)).toMatchObject({ status: 'sending', crashes: 0 });
    expect(records.intents.has(data.messageId)).toBe(true);
  });

  it('unknown outcome on a healthy session (the library could not say): retry, intent kept', async () => {
    sendFails(
      new SessionDriverError(SessionErrorCode.UnknownOutcome, 'unknown_outcome', 'undefined'),
    );
    const data = job();
    expect(await run(data)).toMatchObject({ kind: 'retry', error: { code: 'UNKNOWN_OUTCOME' } });
    expect(rec(data)).toMatchObject({ status: 'sending', error: { code: 'UNKNOWN_OUTCOME' } });
    expect(records.intents.has(data.messageId)).toBe(true);
    expect(session.noted).toEqual([{ ok: false, code: 'UNKNOWN_OUTCOME' }]);
  });

  it('unknown outcome on a healthy session, last attempt: fails the message', async () => {
    sendFails(
      new SessionDriverError(SessionErrorCode.UnknownOutcome, 'unknown_outcome', 'undefined'),
    );
    const data = job();
    expect(await run(data, MAX_ATTEMPTS - 1)).toMatchObject({ kind: 'fail' });
    expect(rec(data).status).toBe('failed');
  });
});

describe('SendProtocol: an earlier attempt left an open intent (reconciliation)', () => {
  it('found sent: reconciled, recorded sent with the found id, not resent', async () => {
    driver.found = async () => ({ waMessageId: 'wa-found', at: new Date().toISOString(), ack: 1 });
    const data = afterUnknownOutcome();
    expect(await run(data)).toEqual({ kind: 'reconciled', waMessageId: 'wa-found' });
    expect(driver.sends).toHaveLength(0);
    expect(rec(data)).toMatchObject({ status: 'sent', waMessageId: 'wa-found' });
    expect(records.intents.has(data.messageId)).toBe(false);
    expect(await records.ownerOf(SESSION, 'wa-found')).toBe(data.messageId);
  });

  it('looks in the chat and from the time of the earlier attempt, and never claims another message’s id', async () => {
    const startedAt = Date.now() - 5000;
    records.waIndex.set(`${SESSION}:wa-other`, 'msg_other');
    const asked: { chatId: string; startedAt: number; claimed: boolean[] }[] = [];
    driver.found = async (m, opts) => {
      asked.push({
        chatId: m.chatId,
        startedAt: m.attemptStartedAt,
        claimed: [(await opts.isClaimed?.('wa-other'))!, (await opts.isClaimed?.('wa-free'))!],
      });
      return null;
    };
    const data = afterUnknownOutcome(
      {},
      { chatId: '551112345678@c.us', startedAt: String(startedAt) },
    );
    await run(data);
    expect(asked).toEqual([{ chatId: '551112345678@c.us', startedAt, claimed: [true, false] }]);
  });

  it('not found: sends now, with a new attempt (the intent replaced)', async () => {
    const data = afterUnknownOutcome();
    expect(await run(data)).toMatchObject({ kind: 'sent' });
    expect(driver.findSentCalls).toBe(1);
    expect(driver.sends).toHaveLength(1);
    expect(rec(data).attemptId).not.toBe('earlier');
    expect(rec(data).attempts).toBe(2);
  });

  it('pending in the local store (ack 0): neither resent nor marked sent; looked at again later', async () => {
    driver.found = async () => ({
      waMessageId: 'wa-pending',
      at: new Date().toISOString(),
      ack: 0,
      pending: true,
    });
    protocol = makeProtocol({ pendingRecheckMs: 1234 });
    const data = afterUnknownOutcome();
    expect(await run(data)).toEqual({ kind: 'pending-recheck', ms: 1234 });
    expect(driver.sends).toHaveLength(0);
    expect(rec(data)).toMatchObject({ status: 'sending', attemptId: 'earlier' });
    expect(records.intents.has(data.messageId)).toBe(true);
  });

  it('pending past the bound: SEND_UNCONFIRMED, failed, not resent', async () => {
    driver.found = async () => ({ waMessageId: 'wa-p', at: '', ack: 0, pending: true });
    protocol = makeProtocol({ pendingBoundMs: 60_000 });
    const data = afterUnknownOutcome({}, { startedAt: String(Date.now() - 61_000) });
    expect(await run(data)).toMatchObject({ kind: 'fail', error: { code: 'SEND_UNCONFIRMED' } });
    expect(rec(data).status).toBe('failed');
    expect(driver.sends).toHaveLength(0);
  });

  it('reconciliation that does not answer: never resend blind; wait for a healthy session', async () => {
    driver.found = never;
    const data = afterUnknownOutcome();
    expect(await run(data)).toMatchObject({
      kind: 'wait',
      reason: 'session',
      error: { code: 'SEND_TIMEOUT' },
    });
    expect(driver.sends).toHaveLength(0);
    expect(records.intents.get(data.messageId)?.attemptId).toBe('earlier');
  });

  it('crash counting: a message whose sends crashed the session MESSAGE_MAX_ATTEMPTS times fails, unsent', async () => {
    const data = afterUnknownOutcome({ crashes: MAX_ATTEMPTS });
    expect(await run(data)).toMatchObject({
      kind: 'fail',
      error: { code: 'SEND_CRASHED_SESSION', failure: 'permanent' },
    });
    expect(driver.sends).toHaveLength(0);
    expect(rec(data)).toMatchObject({ status: 'failed', error: { code: 'SEND_CRASHED_SESSION' } });
    expect(records.intents.has(data.messageId)).toBe(false);
  });

  it('crash counting: one crash short of the limit, it is sent again (after reconciling)', async () => {
    const data = afterUnknownOutcome({ crashes: MAX_ATTEMPTS - 1 });
    expect(await run(data)).toMatchObject({ kind: 'sent' });
    expect(driver.sends).toHaveLength(1);
  });

  it('crash counting end to end: each crash counts until the limit, then the message fails', async () => {
    sendFails(new Error('Protocol error (Runtime.callFunctionOn): Target closed.'));
    const data = job();
    const outcomes: string[] = [];
    for (let i = 0; i <= MAX_ATTEMPTS; i++) outcomes.push((await run(data)).kind);
    expect(outcomes).toEqual([...Array<string>(MAX_ATTEMPTS).fill('wait'), 'fail']);
    expect(driver.sends).toHaveLength(MAX_ATTEMPTS);
    expect(rec(data)).toMatchObject({ status: 'failed', crashes: MAX_ATTEMPTS });
  });
});

describe('SendProtocol: fencing (the lease, and another run that took the message over)', () => {
  it('one Redis: lease lost before the move to sending: not sent, the record and intent left to the owner', async () => {
    session.lease = false;
    let leaseReads = 0;
    session.holdsLease = async () => (leaseReads++, false);
    const data = afterUnknownOutcome();
    driver.found = async () => null;
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'lease-lost' });
    expect(driver.sends).toHaveLength(0);
    expect(rec(data)).toMatchObject({ status: 'sending', attemptId: 'earlier', attempts: 1 });
    expect(records.intents.get(data.messageId)?.attemptId).toBe('earlier');
    expect(leaseReads).toBe(0); // checked in the move's own step, not read apart
  });

  it('one Redis: the move to sending is the last check, no lease or attempt read after it', async () => {
    let reads = 0;
    session.holdsLease = async () => (reads++, true);
    records.beforeAttemptCheck = () => reads++;
    const data = job();
    expect(await run(data)).toMatchObject({ kind: 'sent' });
    expect(reads).toBe(0);
  });

  it('Cluster: lease lost after the move to sending: not sent, back to queued, intent dropped', async () => {
    records.checksLease = false;
    session.lease = false;
    const data = job();
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'lease-lost' });
    expect(driver.sends).toHaveLength(0);
    expect(rec(data).status).toBe('queued');
    expect(records.intents.has(data.messageId)).toBe(false);
  });

  it('Cluster: superseded between the move to sending and the driver call: not sent', async () => {
    records.checksLease = false;
    const data = job();
    records.beforeAttemptCheck = () => records.takeOver(data.messageId);
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'superseded' });
    expect(driver.sends).toHaveLength(0);
  });

  it('superseded before the move to sending: not sent, the other run’s record untouched', async () => {
    const data = job();
    records.before.set('sending', () => records.takeOver(data.messageId));
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'superseded' });
    expect(driver.sends).toHaveLength(0);
    expect(rec(data)).toMatchObject({ status: 'queued', attemptId: 'the-other-run', attempts: 0 });
  });

  it('superseded during the driver call: the late success does not clobber the new attempt', async () => {
    const data = job();
    driver.sendResult = async (m) => {
      records.takeOver(m.messageId);
      records.intents.set(m.messageId, { attemptId: 'the-other-run' });
      return { waMessageId: 'wa-late', at: new Date().toISOString() };
    };
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'superseded' });
    expect(rec(data)).toMatchObject({ status: 'sending', attemptId: 'the-other-run' });
    expect(rec(data).waMessageId).toBeUndefined();
    expect(records.intents.get(data.messageId)?.attemptId).toBe('the-other-run');
    expect(session.paced).toEqual([]);
  });

  it('superseded during the driver call: the late failure does not clobber the new attempt', async () => {
    const data = job();
    driver.sendResult = async (m) => {
      records.takeOver(m.messageId);
      throw new SessionDriverError(SessionErrorCode.InvalidMedia, 'permanent', 'late');
    };
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'superseded' });
    expect(rec(data)).toMatchObject({ status: 'sending', attemptId: 'the-other-run' });
  });

  it('superseded at expiry: the other run decides', async () => {
    const data = job({ expiresAt: new Date(Date.now() - 1000).toISOString() });
    records.before.set('expired', () => records.takeOver(data.messageId));
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'superseded' });
    expect(rec(data).status).toBe('queued');
  });

  it('superseded when failing a number that is not on WhatsApp', async () => {
    driver.numberCheck = async (chatId) => ({ chatId, onWhatsApp: false });
    const data = job();
    records.before.set('failed', () => records.takeOver(data.messageId));
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'superseded' });
    expect(rec(data).status).toBe('queued');
  });

  it('superseded while recording a reconciled send: the other run owns the record', async () => {
    driver.found = async () => ({ waMessageId: 'wa-found', at: new Date().toISOString(), ack: 1 });
    const data = afterUnknownOutcome();
    records.before.set('sent', () => records.takeOver(data.messageId));
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'superseded' });
    expect(rec(data).status).toBe('sending');
    expect(await records.ownerOf(SESSION, 'wa-found')).toBeNull();
  });

  it('superseded while counting a crash: the other run’s record keeps its count', async () => {
    sendFails(new Error('Protocol error (Runtime.callFunctionOn): Target closed.'));
    const data = job();
    records.before.set('sending', () => {
      // The first move to sending is this run's own; the crash count comes second.
      if (rec(data).attemptId) records.takeOver(data.messageId);
    });
    expect(await run(data)).toEqual({ kind: 'wait', reason: 'superseded' });
    expect(rec(data).crashes).toBe(0);
  });
});
