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
 * The change's `message.status` event is recorded in the same step (see EventLog): the caller's
 * template gets the previous status, session, recipient and WhatsApp id from the record. No
 * event when the status does not change. Where it goes depends on the keys given:
 *
 * - 4 keys (Redis Cluster: the stream lives in another slot): into the message's outbox, which
 *   the caller then flushes to the stream (XADD, LREM: two more round trips);
 * - 6 keys (one Redis: any key may be touched): straight into the stream, and the final change
 *   leaves the session's unfinished index here too. The fact and its event are then one atomic
 *   step (stronger than outbox + flush: no window at all), and the XADD is the script's first
 *   write, so an XADD that fails (a stream key of another type) changes nothing: Redis does not
 *   roll a script back, and a record changed without its event is what must never happen.
 *
 * With 8 keys (one Redis, `TransitionRequest.index`), a change that applies also sets the
 * WhatsApp id index (key 7 = message id, with a TTL) and returns what key 8 holds (an ack that
 * came before the index): the id is indexed in the same step as `sent`, so an ack finds either
 * no index and is kept, or the message already `sent`.
 *
 * With 7 keys (one Redis, `TransitionRequest.lease`), key 7 is the session's lease: the change
 * applies only while it holds ARGV[14], checked before any write (the send path's move to
 * `sending`: the lease and attempt fencing in the move's own step, see SendProtocol).
 *
 * KEYS: record, history, send intent, event outbox (one slot), [event stream, the session's
 * unfinished index, [lease | WhatsApp id index, early ack]]. ARGV: to, allowed-from (comma list,
 * '*' = any non-final), history entry JSON, ttl seconds, '1' if `to` is final, condition field
 * name ('' = none), its expected value ('' = absent), intent ('' keep, '-' delete, JSON object =
 * replace), counter field to increment ('' = none), event template JSON, message id, the
 * session the unfinished index belongs to, the index's ttl seconds, the lease value expected
 * ('' without a lease key), then field/value pairs to set. Returns {1, previous, counter,
 * session, event JSON ('' = none), createdAt, sendAt, '1' if the event is in the stream and the
 * unfinished index updated, early ack ('' = none)} when applied, {0, current} when the status did
 * not allow it, {-2, current} when the condition field did not hold the expected value, {-3,
 * current} when the lease is not the one expected, {-1} when the record does not exist.
 */
const TRANSITION_LUA = `
-- Everything the step reads of the record, in one HMGET (each redis.call costs Redis time):
-- status, session, recipient, WhatsApp id, the clock (createdAt, sendAt: no transition sets
-- them), the condition field, then the fields this change deletes (an HDEL only for those
-- the record holds: a send's moves clear an \`error\` that is rarely there).
local condField = ARGV[6]
local read = {'status', 'session', 'to', 'waMessageId', 'createdAt', 'sendAt',
  condField ~= '' and condField or 'status'}
for i = 15, #ARGV, 2 do
  if ARGV[i + 1] == '' then read[#read + 1] = ARGV[i] end
end
local rec = redis.call('HMGET', KEYS[1], unpack(read))
local cur = rec[1]
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
if condField ~= '' then
  local have = rec[7]
  if not have then have = '' end
  if have ~= ARGV[7] then return {-2, cur} end
end
-- The session's lease (one Redis only, KEYS[7] with 7 keys): the send path's move to sending
-- applies only while this worker's lease is current, checked before any write.
if #KEYS == 7 and redis.call('GET', KEYS[7]) ~= ARGV[14] then return {-3, cur} end
local inline = #KEYS >= 6
local session = rec[2] or ''
local event = ''
if cur ~= ARGV[1] then
  local e = cjson.decode(ARGV[10])
  e.session = session
  e.data.previous = cur
  e.data.to = rec[3] or cjson.null
  -- The WhatsApp id as the record holds it after this change (set or cleared by it, or kept).
  local wa = rec[4]
  for i = 15, #ARGV, 2 do
    if ARGV[i] == 'waMessageId' then wa = ARGV[i + 1] end
  end
  if wa and wa ~= '' then e.data.waMessageId = wa end
  event = cjson.encode(e)
  if inline then redis.call('XADD', KEYS[5], '*', 'id', e.id, 's', session, 'e', event) end
end
-- One HSET (and at most one HDEL) for all fields: each redis.call costs Redis time, and a
-- send's changes set up to six fields each.
local set = {'status', ARGV[1]}
local unset = {}
local held = 7
for i = 15, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    held = held + 1
    if rec[held] then unset[#unset + 1] = ARGV[i] end
  else
    set[#set + 1] = ARGV[i]
    set[#set + 1] = ARGV[i + 1]
  end
end
redis.call('HSET', KEYS[1], unpack(set))
if #unset > 0 then redis.call('HDEL', KEYS[1], unpack(unset)) end
local counter = 0
if ARGV[9] ~= '' then counter = redis.call('HINCRBY', KEYS[1], ARGV[9], 1) end
redis.call('RPUSH', KEYS[2], ARGV[3])
if ARGV[8] == '-' then
  redis.call('DEL', KEYS[3])
elseif ARGV[8] ~= '' then
  redis.call('DEL', KEYS[3])
  local intent = {}
  for k, v in pairs(cjson.decode(ARGV[8])) do
    intent[#intent + 1] = k
    intent[#intent + 1] = v
  end
  if #intent > 0 then redis.call('HSET', KEYS[3], unpack(intent)) end
end
if event ~= '' and not inline then redis.call('RPUSH', KEYS[4], event) end
local wasFinal = (${FINAL_STATUSES.map((f) => `cur == '${f}'`).join(' or ')})
if ARGV[5] == '1' then
  local ttl = tonumber(ARGV[4])
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  -- The intent: only with the message's first final status, and not when this step deleted
  -- it (that first step gave it this TTL or deleted it; a final message's intent is never read).
  if ARGV[8] ~= '-' and not wasFinal then redis.call('EXPIRE', KEYS[3], ttl) end
  -- The outbox: with the first final status, and whenever this step pushed an event into it
  -- (Cluster path), so an event waiting there lives as long as the record. On one Redis an ack's
  -- step (final to final) writes no outbox entry: its TTL from the first final step stands.
  if not wasFinal or (event ~= '' and not inline) then redis.call('EXPIRE', KEYS[4], ttl) end
else
  -- A record written by an older version carries a TTL from its creation: drop it. Its
  -- history and outbox were written with it (one step) and the intent by a step like this one,
  -- so a record without a TTL means none of them has one: one PERSIST, not four.
  if redis.call('PERSIST', KEYS[1]) == 1 then
    for k = 2, 4 do redis.call('PERSIST', KEYS[k]) end
  end
end
local indexed = '0'
if inline and session == ARGV[12] then
  -- Only with the first final status: on this path that step took the message out of the index
  -- (an ack's later step would find nothing to remove; were an entry left by a crash, the
  -- consistency check prunes a final record's entry).
  if ARGV[5] == '1' and not wasFinal then redis.call('ZREM', KEYS[6], ARGV[11]) end
  indexed = '1'
end
local early = ''
if #KEYS >= 8 then
  redis.call('SET', KEYS[7], ARGV[11], 'EX', ARGV[13])
  early = redis.call('GET', KEYS[8]) or ''
end
return {1, cur, counter, session, event, rec[5] or '', rec[6] or '', indexed, early}
`;

/**
 * A new message's record, first history entry and `queued` event in its outbox, in one step.
 * KEYS: record, history, outbox (one slot). ARGV: history entry JSON, event JSON, then the
 * record's field/value pairs.
 */
const CREATE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
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

/**
 * On one Redis only (keys of several slots): a session's new messages whole, in one step. The
 * session check (ARGV[1] = '1'), the ids into the session's unfinished index, and per message
 * its `queued` event into the stream, its record and first history entry, its expiry.
 * KEYS: session hash, unfinished index, event stream, expiry index, then record and history of
 * each message. ARGV: '1' to require the session, the session id, '1' to look each id up and
 * leave a message whose record exists as it is ('0': the ids are new, so only a resent run of
 * this command can have written them, which two lookups find), then 12 per message: id,
 * index score, to, chatId, priority, contentHash, createdAt, sendAt, expiresAt, expiry score
 * ('' = none for the last three), event id, event JSON. The record's field names and its
 * history entry are made here (fewer strings for the gateway to send: its profile showed the
 * writing of this command's arguments among its top costs on bulks). Returns 1, or 0 when the
 * session does not exist (nothing written).
 *
 * Order of the writes: Redis does not roll a script back, so a command that fails midway (a key
 * of the wrong type; an OOM refuses the first write, before anything is written) keeps what came
 * before it. The index comes first (an entry without a record is pruned by the consistency
 * check), and each message's event comes before its record: a record never exists without its
 * `queued` event, as on the outbox path.
 */
const CREATE_ALL_INLINE_LUA = `
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
-- A message whose record exists already is left as it is (a retried request resuming one that
-- died midway may find it sent meanwhile): no index entry, event, record or history for it.
local check = ARGV[3] == '1'
if not check then
  -- Ids minted for this request (ARGV[3] = '0') have no record, unless this very command ran
  -- before and its reply was lost: ioredis resends an unanswered command after a reconnect.
  -- A run that completed wrote the last record (nothing more to do); one stopped midway by a
  -- refused write wrote the first: then every id is looked up, as for a resumed request.
  if redis.call('EXISTS', KEYS[#KEYS - 1]) == 1 then return 1 end
  check = redis.call('EXISTS', KEYS[5]) == 1
end
local fresh = {}
local k = 5
for a = 4, #ARGV, 12 do
  fresh[a] = not check or redis.call('EXISTS', KEYS[k]) == 0
  k = k + 2
end
local scored = {}
for a = 4, #ARGV, 12 do
  if fresh[a] then
    scored[#scored + 1] = ARGV[a + 1]
    scored[#scored + 1] = ARGV[a]
  end
  -- unpack() is bounded by Lua's C stack (8000 values): index in chunks.
  if #scored >= 1000 then
    redis.call('ZADD', KEYS[2], unpack(scored))
    scored = {}
  end
end
if #scored > 0 then redis.call('ZADD', KEYS[2], unpack(scored)) end
k = 5
for a = 4, #ARGV, 12 do
  if fresh[a] then
    redis.call('XADD', KEYS[3], '*', 'id', ARGV[a + 10], 's', ARGV[2], 'e', ARGV[a + 11])
    local at = ARGV[a + 6]
    local fields = {'id', ARGV[a], 'session', ARGV[2], 'to', ARGV[a + 2], 'chatId', ARGV[a + 3],
      'status', 'queued', 'attempts', '0', 'priority', ARGV[a + 4], 'contentHash', ARGV[a + 5],
      'createdAt', at, 'updatedAt', at}
    if ARGV[a + 7] ~= '' then
      fields[#fields + 1] = 'sendAt'
      fields[#fields + 1] = ARGV[a + 7]
    end
    if ARGV[a + 8] ~= '' then
      fields[#fields + 1] = 'expiresAt'
      fields[#fields + 1] = ARGV[a + 8]
      redis.call('ZADD', KEYS[4], ARGV[a + 9], ARGV[a])
    end
    redis.call('HSET', KEYS[k], unpack(fields))
    -- The history entry as JSON.stringify({status, at}) writes it (at is an ISO date-time).
    redis.call('RPUSH', KEYS[k + 1], '{"status":"queued","at":"' .. at .. '"}')
  end
  k = k + 2
end
return 1
`;

/** How {@link MessageStore.createAll} writes. */
export interface CreateOptions {
  /** Write nothing (and resolve `created: false`) unless the session exists. */
  requireSession?: boolean;
  /**
   * The ids were minted for this write: on one Redis the script then looks up two records (the
   * first and the last, which a resent run of the same command would have written) instead of
   * every one. A resumed request must leave this unset: its messages may have been written and
   * have moved on.
   */
  newIds?: boolean;
}

/**
 * Whether a status change's event goes into the stream inside the change's own script: only on
 * one Redis (standalone or Sentinel), where a script may touch keys of any slot. Under Redis
 * Cluster the stream lives in another slot: outbox, then flush.
 */
export function eventsInline(redis: Redis): boolean {
  return (redis as { isCluster?: boolean }).isCluster !== true;
}

type TransitionReply = [
  number,
  string,
  number?,
  string?,
  string?,
  string?,
  string?,
  string?,
  string?,
];

export interface TransitionResult {
  applied: boolean;
  /** Status before the call; null when the message does not exist. */
  previous: MessageStatus | null;
  /** Not applied because the `ifField` condition did not hold (another attempt took over). */
  fenced: boolean;
  /** The incremented counter's new value (0 without `increment`). */
  counter: number;
  /** Not applied because the session's lease (`TransitionRequest.lease`) is not the one given. */
  leaseLost?: boolean;
  /**
   * True when `TransitionRequest.lease` was checked in the change's own step (one Redis): the
   * change applied while the lease was current. Otherwise (Cluster) the caller checks it.
   */
  leaseChecked?: boolean;
  /**
   * Set when the change applied and `index` was written in its step (one Redis): what the
   * early-ack key held ('' = nothing). Undefined: the caller indexes (Cluster, or not applied).
   */
  earlyAck?: string;
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
  /**
   * On one Redis, with a change that applies: `SET key <message id> EX ttlSeconds` and read
   * `early`, in the same step (the WhatsApp id index of a `sent` message and an ack that came
   * first; session slot). Under Cluster it is ignored: the caller indexes after the change.
   */
  index?: { key: string; early: string; ttlSeconds: number };
  /**
   * On one Redis: applies only while `key` (the session's lease) holds `value`, checked in the
   * same step before any write; refused with `leaseLost`. Under Cluster (another slot) it is
   * ignored and `leaseChecked` stays unset: the caller checks the lease itself. Not with `index`.
   */
  lease?: { key: string; value: string };
}

/**
 * The message records: what `GET /api/messages/:id` shows. A record lives as long as its
 * message is not final, then MESSAGE_RETENTION_DAYS after its last change, independent of
 * BullMQ's job retention.
 */
export class MessageStore {
  private readonly transitionRecord: LuaCommand<
    [record: string, history: string, intent: string, outbox: string, ...args: (string | number)[]],
    TransitionReply
  >;
  private readonly transitionIndexed: LuaCommand<
    [
      record: string,
      history: string,
      intent: string,
      outbox: string,
      stream: string,
      unfinished: string,
      index: string,
      early: string,
      ...args: (string | number)[],
    ],
    TransitionReply
  >;
  private readonly transitionLeased: LuaCommand<
    [
      record: string,
      history: string,
      intent: string,
      outbox: string,
      stream: string,
      unfinished: string,
      lease: string,
      ...args: (string | number)[],
    ],
    TransitionReply
  >;
  private readonly transitionInline: LuaCommand<
    [
      record: string,
      history: string,
      intent: string,
      outbox: string,
      stream: string,
      unfinished: string,
      ...args: (string | number)[],
    ],
    TransitionReply
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
  private readonly createAllInline: LuaCommand<(string | number)[], number>;
  private readonly indexIfSessionExists: LuaCommand<
    [session: string, unfinished: string, ...scoreIdPairs: (string | number)[]],
    number
  >;

  /**
   * `inline` (default: on one Redis, not under Cluster, see {@link eventsInline}) records a
   * change's event straight into the stream in the change's script; off, through the outbox.
   */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly retentionSeconds: number,
    private readonly events: EventLog,
    private readonly inline = eventsInline(redis),
  ) {
    this.transitionRecord = defineLuaCommand(redis, 'waMessageTransition', {
      numberOfKeys: 4,
      lua: TRANSITION_LUA,
    });
    this.createRecord = defineLuaCommand(redis, 'waMessageCreate', {
      numberOfKeys: 3,
      lua: CREATE_LUA,
    });
    this.createAllInline = defineLuaCommand(redis, 'waMessageCreateAllInline', {
      // Set per call (the number of messages varies): see createAllAtOnce.
      numberOfKeys: null,
      lua: CREATE_ALL_INLINE_LUA,
    });
    this.indexIfSessionExists = defineLuaCommand(redis, 'waMessageIndexIfSession', {
      numberOfKeys: 2,
      lua: INDEX_IF_SESSION_LUA,
    });
    this.transitionInline = defineLuaCommand(redis, 'waMessageTransitionInline', {
      numberOfKeys: 6,
      lua: TRANSITION_LUA,
    });
    this.transitionLeased = defineLuaCommand(redis, 'waMessageTransitionLeased', {
      numberOfKeys: 7,
      lua: TRANSITION_LUA,
    });
    this.transitionIndexed = defineLuaCommand(redis, 'waMessageTransitionIndexed', {
      numberOfKeys: 8,
      lua: TRANSITION_LUA,
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
   *
   * On one Redis (not under Cluster), the messages of one session go in as one script instead
   * ({@link createAllAtOnce}): one round trip, `settled` already resolved.
   */
  async createAll(
    items: { job: SendMessageJob; to: string }[],
    { requireSession = false, newIds = false }: CreateOptions = {},
  ): Promise<{ created: boolean; settled: Promise<void> }> {
    if (items.length === 0) return { created: true, settled: Promise.resolve() };
    // Each session's index of unfinished records (its slot), as score/id pairs.
    const index = new Map<string, (string | number)[]>();
    for (const { job } of items) {
      let pairs = index.get(job.sessionId);
      if (!pairs) index.set(job.sessionId, (pairs = []));
      // The acceptance, not unfinishedScore: on this path a message's events go through its
      // outbox, which only the consistency check repairs, so it must see every message from
      // its acceptance on.
      pairs.push(Date.parse(job.createdAt), job.messageId);
    }
    if (this.inline && index.size === 1) return this.createAllAtOnce(items, requireSession, newIds);
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
    const all = items.map(({ job, to }) => ({ job, event: this.recordEvent(job, to) }));
    const [, ...written] = await Promise.all([
      indexed,
      ...all.map(({ job, event }, i) => this.writeRecord(job, items[i].to, event)),
      expiries.length ? this.redis.zadd(this.keys.expiries(), ...expiries) : null,
    ]);
    // Only the records written now have a new `queued` event (CREATE_LUA leaves one that
    // exists already as it is: a resumed request whose message moved on meanwhile).
    const fresh = all.filter((_, i) => written[i] === true);
    const events = fresh.map(({ event }) => event);
    // The records are written: their `queued` events may leave the outboxes. A failure leaves
    // them there for the consistency check (it finds the records through the unfinished index):
    // the records stand, so it is not the caller's error.
    const appended = await this.events.appendRecorded(events).then(
      () => true,
      () => false,
    );
    const settled = appended
      ? Promise.all(
          fresh.map(({ job, event }) =>
            this.events.forgetRecorded(this.keys.messageOutbox(job.messageId), event.json),
          ),
        ).then(
          () => undefined,
          () => undefined,
        )
      : Promise.resolve();
    return { created: true, settled };
  }

  /**
   * {@link createAll} on one Redis, for the messages of one session: one round trip instead of
   * four (index, records, stream, outbox cleanup). Every guarantee of the outbox path holds, and
   * atomicity gets stronger: the session check, the index, every record and every `queued` event
   * are one step, so there is no outbox to flush or repair, and a deleted session still means
   * nothing written (the check is the script's first command).
   */
  private async createAllAtOnce(
    items: { job: SendMessageJob; to: string }[],
    requireSession: boolean,
    newIds: boolean,
  ): Promise<{ created: boolean; settled: Promise<void> }> {
    const sessionId = items[0].job.sessionId;
    const keys: string[] = [
      this.keys.session(sessionId),
      this.keys.unfinished(sessionId),
      this.keys.eventStream(),
      this.keys.expiries(),
    ];
    const args: (string | number)[] = [requireSession ? '1' : '0', sessionId, newIds ? '0' : '1'];
    for (const { job, to } of items) {
      const id = job.messageId;
      keys.push(this.keys.message(id), this.keys.messageHistory(id));
      const event = this.recordEvent(job, to);
      args.push(
        id,
        unfinishedScore(job),
        to,
        job.chatId,
        job.priority,
        job.contentHash,
        job.createdAt,
        job.sendAt ?? '',
        job.expiresAt ?? '',
        job.expiresAt ? Date.parse(job.expiresAt) : '',
        event.id,
        event.json,
      );
    }
    const created = await this.createAllInline(keys.length, ...keys, ...args);
    return { created: created === 1, settled: Promise.resolve() };
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

  /** True when written; false when the record existed already (left as it is). */
  private async writeRecord(
    job: SendMessageJob,
    to: string,
    event: RecordedEvent,
  ): Promise<boolean> {
    const id = job.messageId;
    return (
      (await this.createRecord(
        this.keys.message(id),
        this.keys.messageHistory(id),
        this.keys.messageOutbox(id),
        historyEntry(job),
        event.json,
        ...recordFields(job, to),
      )) === 1
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
    const keys = [
      this.keys.message(id),
      this.keys.messageHistory(id),
      this.keys.sendIntent(id),
      this.keys.messageOutbox(id),
    ] as const;
    const args = [
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
      id,
      req.session ?? '',
      req.index?.ttlSeconds ?? 0,
      req.lease?.value ?? '',
      ...fields,
    ];
    let reply: TransitionReply;
    if (this.inline) {
      // One round trip: the event is in the stream (and a final message out of its session's
      // unfinished index) in the same atomic step as the change; nothing to flush or repair.
      // The unfinished index is named by the caller's session (checked against the record's in
      // the script); without one, it is updated below, as on the outbox path.
      const unfinished = this.keys.unfinished(req.session ?? '');
      if (req.index && req.lease)
        throw new Error('a transition takes an index or a lease, not both');
      reply = req.index
        ? await this.transitionIndexed(
            ...keys,
            this.keys.eventStream(),
            unfinished,
            req.index.key,
            req.index.early,
            ...args,
          )
        : req.lease
          ? await this.transitionLeased(
              ...keys,
              this.keys.eventStream(),
              unfinished,
              req.lease.key,
              ...args,
            )
          : await this.transitionInline(...keys, this.keys.eventStream(), unfinished, ...args);
    } else {
      if (fromFinal && req.session) {
        // Back into the unfinished index while its event is on the way (see `session`).
        await this.redis.zadd(this.keys.unfinished(req.session), 'NX', Date.now(), id);
      }
      reply = await this.transitionRecord(...keys, ...args);
    }
    const [code, previous, counter, session, event, createdAt, sendAt, indexed, early] = reply;
    // Outbox path: the change is recorded with its event in the outbox; move the event to the
    // stream. A failure leaves it there (and the message in the unfinished index) for the
    // consistency check: the change itself stands, so it is not the caller's error.
    const flushed =
      event && !this.inline
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
    if (code !== 1 && fromFinal && req.session && !this.inline) {
      await this.redis.zrem(this.keys.unfinished(req.session), id);
    } else if (code === 1 && final && session && flushed && indexed !== '1') {
      // Out of the session's index of unfinished records (another slot: a second command; a
      // crash in between leaves an entry the consistency check prunes).
      await this.redis.zrem(this.keys.unfinished(session), id);
    }
    return {
      applied: code === 1,
      previous: code === -1 ? null : (previous as MessageStatus),
      fenced: code === -2,
      counter: Number(counter ?? 0),
      ...(code === -3 ? { leaseLost: true } : {}),
      ...(code === 1 && this.inline && req.lease ? { leaseChecked: true } : {}),
      ...(code === 1 && this.inline && req.index ? { earlyAck: early ?? '' } : {}),
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

/** A new message's record as field/value strings (status `queued`). */
function recordFields(job: SendMessageJob, to: string): string[] {
  const now = job.createdAt;
  const fields: string[] = [
    'id',
    job.messageId,
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
  return fields;
}

/** A new message's first history entry, as JSON. */
function historyEntry(job: SendMessageJob): string {
  const entry: MessageHistoryEntry = { status: 'queued', at: job.createdAt };
  return JSON.stringify(entry);
}

/**
 * A new message's score in its session's unfinished index: from when the consistency check may
 * judge it (once its grace period has passed too). Its acceptance, or its send time for a message
 * scheduled later: until then its job waits as `delayed`, alive by definition, and judging it on
 * every pass would cost an idle worker Redis commands for each scheduled message on every lap
 * (a job, its state, its outbox: the idle cost would grow with the queue, issue 13). A scheduled
 * message whose job was lost is found from its send time on, when it would have been sent.
 * Only where a message's `queued` event is written in the same script as its record (one Redis,
 * one session: createAllAtOnce), so there is no outbox of it to repair meanwhile. Elsewhere
 * (Redis Cluster) a `queued` event whose append failed waits in the message's outbox for the
 * check, and must reach the stream before the worker's `sending`: the score stays the
 * acceptance. Records written before this score existed keep their acceptance too (no
 * migration: they leave the index when they finish).
 */
function unfinishedScore(job: SendMessageJob): number {
  return clockStart(job.createdAt, job.sendAt) ?? Date.now();
}

/** Where accept-to-sent starts: acceptance, or sendAt for a message scheduled later. */
function clockStart(createdAt: string | undefined, sendAt: string | undefined): number | null {
  const accepted = createdAt ? Date.parse(createdAt) : NaN;
  if (Number.isNaN(accepted)) return null;
  const scheduled = sendAt ? Date.parse(sendAt) : NaN;
  return Number.isNaN(scheduled) ? accepted : Math.max(accepted, scheduled);
}
