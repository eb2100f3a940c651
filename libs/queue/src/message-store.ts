import type { Redis } from 'ioredis';
import {
  defineLuaCommand,
  EventLog,
  type LuaCommand,
  type MessageStatusEventData,
  type RecordedEvent,
} from '@app/core';

import type { MessagePriority } from './queue.constants';
import { FINAL_STATUSES } from './jobs';
import type {
  MessageError,
  MessageHistoryEntry,
  MessageRecord,
  MessageStatus,
  SendMessageJob,
} from './jobs';
import type { RedisKeys } from '@app/core';
import { recordStatusChange } from './message.metrics';

/**
 * Compare-and-set of a message's status, with its history entry, in one atomic step. It is the
 * only way a status changes, so two actors (a cancel in the gateway, a send in a worker) can
 * never both win: exactly one sees its `from` status.
 *
 * Retention counts from the final status: while a message is not final its record, history and
 * send intent have no TTL (a message queued for weeks must stay readable and cancellable); the
 * change that makes it final sets MESSAGE_RETENTION_DAYS on all three, here, atomically.
 *
 * The change's `message.status` event goes into the message's outbox in the same step (see
 * EventLog): the caller's template gets the previous status, session, recipient and WhatsApp id
 * from the record. No event when the status does not change.
 *
 * KEYS: record, history, send intent, event outbox (one slot). ARGV: to, allowed-from (comma
 * list, '*' = any non-final), history entry JSON, ttl seconds, '1' if `to` is final, condition
 * field name ('' = none), its expected value ('' = absent), intent ('' keep, '-' delete, JSON
 * object = replace), counter field to increment ('' = none), event template JSON, then
 * field/value pairs to set. Returns {1, previous, counter, session, event JSON ('' = none),
 * createdAt, sendAt} when applied, {0, current} when the status did not allow it, {-2, current} when the condition field
 * did not hold the expected value, {-1} when the record does not exist.
 */
const TRANSITION_LUA = `
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {-1, ''} end
local allowed = false
if ARGV[2] == '*' then
  allowed = (cur == 'queued' or cur == 'sending')
else
  for s in string.gmatch(ARGV[2], '[^,]+') do
    if s == cur then allowed = true end
  end
end
if not allowed then return {0, cur} end
if ARGV[6] ~= '' then
  local have = redis.call('HGET', KEYS[1], ARGV[6])
  if not have then have = '' end
  if have ~= ARGV[7] then return {-2, cur} end
end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
for i = 11, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
local counter = 0
if ARGV[9] ~= '' then counter = redis.call('HINCRBY', KEYS[1], ARGV[9], 1) end
redis.call('RPUSH', KEYS[2], ARGV[3])
if ARGV[8] == '-' then
  redis.call('DEL', KEYS[3])
elseif ARGV[8] ~= '' then
  redis.call('DEL', KEYS[3])
  for k, v in pairs(cjson.decode(ARGV[8])) do redis.call('HSET', KEYS[3], k, v) end
end
local session = redis.call('HGET', KEYS[1], 'session') or ''
local event = ''
if cur ~= ARGV[1] then
  local e = cjson.decode(ARGV[10])
  e.session = session
  e.data.previous = cur
  e.data.to = redis.call('HGET', KEYS[1], 'to') or cjson.null
  local wa = redis.call('HGET', KEYS[1], 'waMessageId')
  if wa and wa ~= '' then e.data.waMessageId = wa end
  event = cjson.encode(e)
  redis.call('RPUSH', KEYS[4], event)
end
if ARGV[5] == '1' then
  local ttl = tonumber(ARGV[4])
  for k = 1, 4 do redis.call('EXPIRE', KEYS[k], ttl) end
else
  -- A record written by an older version carries a TTL from its creation: drop it.
  for k = 1, 4 do redis.call('PERSIST', KEYS[k]) end
end
local clock = redis.call('HMGET', KEYS[1], 'createdAt', 'sendAt')
return {1, cur, counter, session, event, clock[1] or '', clock[2] or ''}
`;

/**
 * A new message's record, first history entry and `queued` event in its outbox, in one step.
 * KEYS: record, history, outbox (one slot). ARGV: history entry JSON, event JSON, then the
 * record's field/value pairs.
 */
const CREATE_LUA = `
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[2])
return 1
`;

/**
 * Adds messages to their session's index of unfinished records if the session exists.
 * KEYS: session hash, unfinished index (one slot). ARGV: score/id pairs. Returns 1, or 0 when
 * the session does not exist (nothing written).
 */
const INDEX_IF_SESSION_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], unpack(ARGV))
return 1
`;

export interface TransitionResult {
  applied: boolean;
  /** Status before the call; null when the message does not exist. */
  previous: MessageStatus | null;
  /** Not applied because the `ifField` condition did not hold (another attempt took over). */
  fenced: boolean;
  /** The incremented counter's new value (0 without `increment`). */
  counter: number;
}

export interface TransitionRequest {
  to: MessageStatus;
  /** Statuses the message may be in for the change to apply; '*' means any unfinished one. */
  from: readonly MessageStatus[] | '*';
  error?: MessageError | null;
  /** Extra fields to set; an empty string or null deletes the field. */
  fields?: Record<string, string | number | null | undefined>;
  /**
   * Applies only if this record field holds this value ('' = the field is absent): the send
   * path's fencing, on the attempt id a worker saw when it started the job.
   */
  ifField?: { name: string; value: string };
  /** The send intent, in the same step: fields to write (replacing it), or null to delete it. */
  intent?: Record<string, string> | null;
  /** A record field to increment by one (e.g. `crashes`). */
  increment?: string;
  /**
   * The message's session. Needed when `from` holds only final statuses (an ack after `sent`):
   * the message re-enters the session's unfinished index until its event is in the stream, so
   * a crash in between leaves it where the consistency check repairs it.
   */
  session?: string;
}

/**
 * The message records: what `GET /api/messages/:id` shows. A record lives as long as its
 * message is not final, then MESSAGE_RETENTION_DAYS after its last change, independent of
 * BullMQ's job retention.
 */
export class MessageStore {
  private readonly transitionRecord: LuaCommand<
    [record: string, history: string, intent: string, outbox: string, ...args: (string | number)[]],
    [number, string, number?, string?, string?, string?, string?]
  >;
  private readonly createRecord: LuaCommand<
    [
      record: string,
      history: string,
      outbox: string,
      entry: string,
      event: string,
      ...fields: string[],
    ],
    number
  >;
  private readonly indexIfSessionExists: LuaCommand<
    [session: string, unfinished: string, ...scoreIdPairs: (string | number)[]],
    number
  >;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly retentionSeconds: number,
    private readonly events: EventLog,
  ) {
    this.transitionRecord = defineLuaCommand(redis, 'waMessageTransition', {
      numberOfKeys: 4,
      lua: TRANSITION_LUA,
    });
    this.createRecord = defineLuaCommand(redis, 'waMessageCreate', {
      numberOfKeys: 3,
      lua: CREATE_LUA,
    });
    this.indexIfSessionExists = defineLuaCommand(redis, 'waMessageIndexIfSession', {
      numberOfKeys: 2,
      lua: INDEX_IF_SESSION_LUA,
    });
  }

  /**
   * Writes the record of a new message (status `queued`) and moves its `queued` event to the
   * stream. No TTL: retention starts when the message reaches a final status.
   */
  async create(job: SendMessageJob, to: string): Promise<void> {
    const created = await this.createAll([{ job, to }]);
    await created.settled;
  }

  /**
   * Writes the records of new messages, the producer's path (see
   * MessageQueueService): resolves once every record is in Redis and its `queued` event in the
   * stream, or with `created: false` when `requireSession` is set and the session does not
   * exist (then nothing is written). `settled` is the last step, taking the events out of the
   * outboxes: the caller may overlap it with its next write (the job), since an event left in
   * an outbox is only appended again if the stream lacks it (EventLog.repair).
   *
   * Round trips, each a single-slot command (Redis Cluster):
   * 1. the session's slot: the ids into the session's index of unfinished records, in one
   *    script that first checks the session exists (`requireSession`: the 404 check and the
   *    index write are one step, so a record is never indexed for a session that is gone);
   * 2. each message's slot: record, history and outbox entry in one script (atomic, as the
   *    MULTI it replaces: the record and its `queued` event exist together or not at all),
   *    with the expiry index (its own key) alongside;
   * 3. the stream's slot: every `queued` event in one pipeline (one slot, so one node). This
   *    comes before the job exists, so a worker's later events of the message (`sending`)
   *    always follow it in the stream.
   * The index is written before the record: a crash between the two leaves an index entry
   * without a record, which the consistency check prunes, never a record nobody finds.
   */
  async createAll(
    items: { job: SendMessageJob; to: string }[],
    { requireSession = false }: { requireSession?: boolean } = {},
  ): Promise<{ created: boolean; settled: Promise<void> }> {
    if (items.length === 0) return { created: true, settled: Promise.resolve() };
    // Each session's index of unfinished records (its slot), as score/id pairs.
    const index = new Map<string, (string | number)[]>();
    for (const { job } of items) {
      let pairs = index.get(job.sessionId);
      if (!pairs) index.set(job.sessionId, (pairs = []));
      pairs.push(Date.parse(job.createdAt), job.messageId);
    }
    let indexed: Promise<unknown>;
    if (requireSession) {
      if (index.size !== 1) throw new Error('requireSession takes the messages of one session');
      const [[sessionId, pairs]] = index;
      const exists = await this.indexIfSessionExists(
        this.keys.session(sessionId),
        this.keys.unfinished(sessionId),
        ...pairs,
      );
      if (exists !== 1) return { created: false, settled: Promise.resolve() };
      indexed = Promise.resolve();
    } else {
      // Without the session check, the index and the records are independent writes.
      indexed = Promise.all(
        [...index].map(([sessionId, pairs]) =>
          this.redis.zadd(this.keys.unfinished(sessionId), ...pairs),
        ),
      );
    }
    const expiries: (string | number)[] = [];
    for (const { job } of items)
      if (job.expiresAt) expiries.push(Date.parse(job.expiresAt), job.messageId);
    const events = items.map(({ job, to }) => this.recordEvent(job, to));
    await Promise.all([
      indexed,
      ...items.map(({ job, to }, i) => this.writeRecord(job, to, events[i])),
      expiries.length ? this.redis.zadd(this.keys.expiries(), ...expiries) : null,
    ]);
    // The records are written: their `queued` events may leave the outboxes. A failure leaves
    // them there for the consistency check (it finds the records through the unfinished index):
    // the records stand, so it is not the caller's error.
    const appended = await this.events.appendRecorded(events).then(
      () => true,
      () => false,
    );
    const settled = appended
      ? Promise.all(
          items.map(({ job }, i) =>
            this.events.forgetRecorded(this.keys.messageOutbox(job.messageId), events[i].json),
          ),
        ).then(
          () => undefined,
          () => undefined,
        )
      : Promise.resolve();
    return { created: true, settled };
  }

  /** Many records at once (each on its own slot: cluster-safe). */
  async createMany(items: { job: SendMessageJob; to: string }[]): Promise<void> {
    const created = await this.createAll(items);
    await created.settled;
  }

  /** The `queued` event of a new message (its id fixed here, before it is recorded). */
  private recordEvent(job: SendMessageJob, to: string): RecordedEvent {
    const event = EventLog.create<MessageStatusEventData>(
      'message.status',
      job.sessionId,
      { messageId: job.messageId, status: 'queued', previous: null, to },
      new Date(job.createdAt),
    );
    return { id: event.id, session: event.session, json: JSON.stringify(event) };
  }

  private async writeRecord(job: SendMessageJob, to: string, event: RecordedEvent): Promise<void> {
    const id = job.messageId;
    const now = job.createdAt;
    const fields: string[] = [
      'id',
      id,
      'session',
      job.sessionId,
      'to',
      to,
      'chatId',
      job.chatId,
      'status',
      'queued',
      'attempts',
      '0',
      'priority',
      job.priority,
      'contentHash',
      job.contentHash,
      'createdAt',
      now,
      'updatedAt',
      now,
    ];
    if (job.sendAt) fields.push('sendAt', job.sendAt);
    if (job.expiresAt) fields.push('expiresAt', job.expiresAt);
    const entry: MessageHistoryEntry = { status: 'queued', at: now };
    await this.createRecord(
      this.keys.message(id),
      this.keys.messageHistory(id),
      this.keys.messageOutbox(id),
      JSON.stringify(entry),
      event.json,
      ...fields,
    );
  }

  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.message(id))) === 1;
  }

  async get(id: string): Promise<MessageRecord | null> {
    const [[, hash], [, history]] = (await this.redis
      .multi()
      .hgetall(this.keys.message(id))
      .lrange(this.keys.messageHistory(id), 0, -1)
      .exec()) as [[null, Record<string, string>], [null, string[]]];
    if (!hash || !hash.status) return null;
    return {
      id: hash.id,
      session: hash.session,
      to: hash.to,
      status: hash.status as MessageStatus,
      attempts: Number(hash.attempts ?? 0),
      waMessageId: hash.waMessageId || null,
      error: hash.error ? (JSON.parse(hash.error) as MessageError) : null,
      priority: (hash.priority as MessagePriority) ?? 'normal',
      createdAt: hash.createdAt,
      sentAt: hash.sentAt || null,
      deliveredAt: hash.deliveredAt || null,
      readAt: hash.readAt || null,
      sendAt: hash.sendAt || null,
      expiresAt: hash.expiresAt || null,
      updatedAt: hash.updatedAt,
      history: history.map((h) => JSON.parse(h) as MessageHistoryEntry),
    };
  }

  /** The status alone, cheaper than {@link get} on the send path. */
  async status(id: string): Promise<MessageStatus | null> {
    return (await this.redis.hget(this.keys.message(id), 'status')) as MessageStatus | null;
  }

  async transition(id: string, req: TransitionRequest): Promise<TransitionResult> {
    const at = new Date().toISOString();
    const entry: MessageHistoryEntry = { status: req.to, at };
    if (req.error) entry.error = req.error;
    const fields: (string | number)[] = ['updatedAt', at];
    if (req.error !== undefined) {
      fields.push('error', req.error ? JSON.stringify(req.error) : '');
    }
    for (const [k, v] of Object.entries(req.fields ?? {})) {
      if (v === undefined) continue;
      fields.push(k, v === null ? '' : String(v));
    }
    const from = req.from === '*' ? '*' : req.from.join(',');
    const intent =
      req.intent === undefined ? '' : req.intent === null ? '-' : JSON.stringify(req.intent);
    const final = FINAL_STATUSES.includes(req.to);
    const template = EventLog.create<Partial<MessageStatusEventData>>(
      'message.status',
      '',
      {
        messageId: id,
        status: req.to,
        ...(req.error ? { error: req.error } : {}),
        ...(typeof req.fields?.waMessageId === 'string'
          ? { waMessageId: req.fields.waMessageId }
          : {}),
      },
      new Date(at),
    );
    const fromFinal = req.from !== '*' && req.from.every((s) => FINAL_STATUSES.includes(s));
    if (fromFinal && req.session) {
      // Back into the unfinished index while its event is on the way (see `session`).
      await this.redis.zadd(this.keys.unfinished(req.session), 'NX', Date.now(), id);
    }
    const [code, previous, counter, session, event, createdAt, sendAt] =
      await this.transitionRecord(
        this.keys.message(id),
        this.keys.messageHistory(id),
        this.keys.sendIntent(id),
        this.keys.messageOutbox(id),
        req.to,
        from,
        JSON.stringify(entry),
        this.retentionSeconds,
        final ? '1' : '0',
        req.ifField?.name ?? '',
        req.ifField?.value ?? '',
        intent,
        req.increment ?? '',
        JSON.stringify(template),
        ...fields,
      );
    // The change is recorded with its event in the outbox; move the event to the stream. A
    // failure leaves it there (and the message in the unfinished index) for the consistency
    // check: the change itself stands, so it is not the caller's error.
    const flushed = event
      ? await this.events.flush(this.keys.messageOutbox(id), event).then(
          () => true,
          () => false,
        )
      : true;
    if (code === 1 && previous !== req.to && session)
      recordStatusChange({
        session,
        to: req.to,
        error: req.error,
        since: clockStart(createdAt, sendAt),
        at: Date.parse(at),
      });
    if (code !== 1 && fromFinal && req.session) {
      await this.redis.zrem(this.keys.unfinished(req.session), id);
    } else if (code === 1 && final && session && flushed) {
      // Out of the session's index of unfinished records (another slot: a second command; a
      // crash in between leaves an entry the consistency check prunes).
      await this.redis.zrem(this.keys.unfinished(session), id);
    }
    return {
      applied: code === 1,
      previous: code === -1 ? null : (previous as MessageStatus),
      fenced: code === -2,
      counter: Number(counter ?? 0),
    };
  }

  /** Ids of messages whose expiresAt has passed (they may already be final). */
  async dueExpiries(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.expiries(), '-inf', now, 'LIMIT', 0, limit);
  }

  async forgetExpiry(ids: string[]): Promise<void> {
    if (ids.length) await this.redis.zrem(this.keys.expiries(), ...ids);
  }

  /** The record's fields as stored (the send path reads attemptId, chatId, crashes). */
  async fields(id: string, ...names: string[]): Promise<Record<string, string | null>> {
    const values = await this.redis.hmget(this.keys.message(id), ...names);
    return Object.fromEntries(names.map((n, i) => [n, values[i]]));
  }
}

/** Where accept-to-sent starts: acceptance, or sendAt for a message scheduled later. */
function clockStart(createdAt: string | undefined, sendAt: string | undefined): number | null {
  const accepted = createdAt ? Date.parse(createdAt) : NaN;
  if (Number.isNaN(accepted)) return null;
  const scheduled = sendAt ? Date.parse(sendAt) : NaN;
  return Number.isNaN(scheduled) ? accepted : Math.max(accepted, scheduled);
}
