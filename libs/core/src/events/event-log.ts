import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { defineLuaCommand, type LuaCommand } from '../redis/lua-command';
import type { RedisKeys } from '../redis/redis-keys';
import type { EventType, GatewayEvent } from './event.types';

/** One entry of the event stream: its position (resume point) and the event. */
export interface StreamedEvent {
  /** Stream entry id (`<ms>-<seq>`): the SSE `id`, what `Last-Event-ID` resumes from. */
  position: string;
  event: GatewayEvent;
}

/** An event as recorded in an outbox: its id and session, and the JSON the outbox holds. */
export interface RecordedEvent {
  id: string;
  session: string;
  json: string;
}

/**
 * How far around an outbox entry's timestamp a repair looks for a copy already in the stream
 * (clock skew between the writer and Redis, plus the time the writer took).
 */
const REPAIR_WINDOW_MS = 120_000;
/** Entries read per XRANGE while a repair looks for a copy. */
const REPAIR_PAGE = 1000;

/**
 * Appends an event unless one with its id was appended within the dedupe window.
 * KEYS: stream, seen marker (one slot). ARGV: event id, session, event JSON, ttl seconds.
 * Returns the stream id, or '' when it was a repeat.
 */
const APPEND_ONCE_LUA = `
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[4]) then return '' end
return redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 's', ARGV[2], 'e', ARGV[3])
`;

/**
 * The durable event log: one Redis stream every event goes through, read by the webhook router
 * (a consumer group) and the live stream (`GET /api/events`, resumable by position).
 *
 * A fact and its event are recorded in one step: the Lua script or MULTI that records the fact
 * (a status change, a session state) appends the event to an *outbox* list in the fact's own
 * slot (Redis Cluster cannot run one script across slots), and {@link flush} then moves it into
 * the stream. A crash between the two leaves the event in the outbox, where {@link repair} (the
 * worker's consistency check) finds it and appends it, unless a copy reached the stream before
 * the crash: an event is never lost and, outside a writer frozen mid-flush, never doubled.
 */
export class EventLog {
  private readonly appendOnceCommand: LuaCommand<
    [stream: string, seen: string, id: string, session: string, json: string, ttl: number],
    string
  >;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.appendOnceCommand = defineLuaCommand(redis, 'waEventAppendOnce', {
      numberOfKeys: 2,
      lua: APPEND_ONCE_LUA,
    });
  }

  /** A new event; its id is fixed here, before it is recorded anywhere. */
  static create<T>(type: EventType, session: string, data: T, at = new Date()): GatewayEvent<T> {
    return { id: `evt_${randomUUID()}`, type, session, timestamp: at.toISOString(), data };
  }

  get streamKey(): string {
    return this.keys.eventStream();
  }

  /** Appends an event to the stream; returns its position. */
  async append(event: GatewayEvent): Promise<string> {
    return this.xadd(event.id, event.session, JSON.stringify(event));
  }

  /**
   * Appends an event whose id is derived from the fact (an incoming WhatsApp message id), once:
   * the same fact seen twice (a reconnect replays it) within `ttlSeconds` is appended once.
   */
  async appendOnce(event: GatewayEvent, ttlSeconds = 86400): Promise<string | null> {
    const position = await this.appendOnceCommand(
      this.keys.eventStream(),
      this.keys.eventSeen(event.id),
      event.id,
      event.session,
      JSON.stringify(event),
      ttlSeconds,
    );
    return position || null;
  }

  /** Moves one event recorded in an outbox into the stream (the step after the fact's). */
  async flush(outbox: string, json: string): Promise<void> {
    const event = JSON.parse(json) as GatewayEvent;
    await this.xadd(event.id, event.session, json);
    await this.redis.lrem(outbox, 1, json);
  }

  /**
   * {@link flush} in two halves, for a writer that overlaps the second with its next step:
   * appends events recorded in outboxes to the stream (one pipeline: every command is on the
   * stream's key, so one slot and one node in a Redis Cluster), in the order given.
   */
  async appendRecorded(events: RecordedEvent[]): Promise<void> {
    if (events.length === 1) {
      await this.xadd(events[0].id, events[0].session, events[0].json);
      return;
    }
    const pipe = this.redis.pipeline();
    for (const { id, session, json } of events)
      pipe.xadd(this.keys.eventStream(), '*', 'id', id, 's', session, 'e', json);
    const results = await pipe.exec();
    for (const [err] of results ?? []) if (err) throw err;
  }

  /** The second half of {@link flush}: the event, now in the stream, leaves its outbox. */
  async forgetRecorded(outbox: string, json: string): Promise<void> {
    await this.redis.lrem(outbox, 1, json);
  }

  /**
   * Appends what a crash left in an outbox: entries older than `minAgeMs` (younger ones belong
   * to a writer still between its two steps), each unless the stream already holds it. Returns
   * how many it appended.
   */
  async repair(outbox: string, minAgeMs = 30_000, now = Date.now()): Promise<number> {
    const entries = await this.redis.lrange(outbox, 0, -1);
    let appended = 0;
    for (const json of entries) {
      const event = JSON.parse(json) as GatewayEvent;
      const at = Date.parse(event.timestamp);
      if (now - at < minAgeMs) continue;
      if (!(await this.inStream(event.id, at))) {
        await this.xadd(event.id, event.session, json);
        appended++;
      }
      await this.redis.lrem(outbox, 1, json);
    }
    return appended;
  }

  /** Events after a position (exclusive), oldest first; `'0'` reads from the oldest kept. */
  async after(position: string, count: number): Promise<StreamedEvent[]> {
    const start = position === '0' ? '-' : `(${position}`;
    const rows = await this.redis.xrange(this.keys.eventStream(), start, '+', 'COUNT', count);
    return rows.map((row) => EventLog.parseEntry(row));
  }

  /** One stream entry as XRANGE/XREAD return it. */
  static parseEntry([position, fields]: [string, string[]]): StreamedEvent {
    const i = fields.indexOf('e');
    return { position, event: JSON.parse(fields[i + 1]) as GatewayEvent };
  }

  private xadd(id: string, session: string, json: string): Promise<string> {
    return this.redis.xadd(
      this.keys.eventStream(),
      '*',
      'id',
      id,
      's',
      session,
      'e',
      json,
    ) as Promise<string>;
  }

  /** Whether the stream holds an event with this id, written around `at`. */
  private async inStream(id: string, at: number): Promise<boolean> {
    let start = String(Math.max(0, at - REPAIR_WINDOW_MS));
    const end = String(at + REPAIR_WINDOW_MS);
    for (;;) {
      const rows = await this.redis.xrange(
        this.keys.eventStream(),
        start,
        end,
        'COUNT',
        REPAIR_PAGE,
      );
      for (const [, fields] of rows) if (fields[1] === id && fields[0] === 'id') return true;
      if (rows.length < REPAIR_PAGE) return false;
      start = `(${rows[rows.length - 1][0]}`;
    }
  }
}
