import type { Redis } from 'ioredis';
import {
  defineLuaCommand,
  type EventLog,
  type GatewayEvent,
  type LuaCommand,
  type RedisKeys,
  type SessionStatusEventData,
} from '@app/core';
import { INITIAL_SESSION_STATE, type SessionConfig, type SessionState } from './session.types';

export interface SessionLease {
  workerId: string;
  token: number;
}

/** A session as stored: what the API was told, and what its worker last reported. */
export interface StoredSession {
  config: SessionConfig;
  state: SessionState;
}

/**
 * Claims a lease if nobody holds it: SET NX with a fresh fencing token.
 * KEYS: lease, token counter. ARGV: worker id, ttl ms. Returns the token, or 0 when held.
 */
const CLAIM_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  -- A new (or re-created) session: start from the clock, so a token of an earlier session of
  -- the same id, still held by a frozen worker, can never be handed out again.
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
`;

/** Extends a lease only if it is still ours (same worker, same token). */
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** Drops a lease only if it is still ours. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Writes state fields only while the writer holds the session's lease (fencing): a worker that
 * lost its lease while frozen cannot overwrite what the new owner reports. A `session.status`
 * event, when given, goes into the session's outbox in the same step (see EventLog).
 * KEYS: session, lease, event outbox. ARGV: lease value, event JSON ('' = none), then
 * field/value pairs.
 */
const WRITE_STATE_LUA = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[3], ARGV[2]) end
return 1
`;

/**
 * Writes a whole new session record only if the id is free (one step: a concurrent create of
 * the same id sees either nothing or the complete record). KEYS: session. ARGV: field/value
 * pairs. Returns 1 when written, 0 when the id is taken.
 */
const CREATE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

/**
 * Takes over a record an interrupted create left behind (written, never listed), only if it is
 * still the one the caller saw. KEYS: session. ARGV: createdAt seen ('' = none), then fields.
 */
const TAKE_OVER_LUA = `
if (redis.call('HGET', KEYS[1], 'createdAt') or '') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
`;

/**
 * Sets one configuration field of an existing, complete record; never creates one (a deleted
 * session stays deleted). KEYS: session. ARGV: field, value. Returns 1 when written.
 */
const SET_CONFIG_FIELD_LUA = `
if redis.call('HEXISTS', KEYS[1], 'driver') == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/** A record written but not listed for this long belongs to a create that died. */
const ABANDONED_CREATE_MS = 10000;

/** The session registry in Redis: configuration, reported state and leases. */
export class SessionStore {
  private readonly claimLease: LuaCommand<
    [lease: string, counter: string, worker: string, ttl: number],
    number
  >;
  private readonly renewLease: LuaCommand<[lease: string, value: string, ttl: number], number>;
  private readonly releaseLease: LuaCommand<[lease: string, value: string], number>;
  private readonly writeFenced: LuaCommand<
    [
      session: string,
      lease: string,
      outbox: string,
      value: string,
      event: string,
      ...fields: string[],
    ],
    number
  >;
  private readonly createRecord: LuaCommand<[session: string, ...fields: string[]], number>;
  private readonly setConfigField: LuaCommand<
    [session: string, field: string, value: string],
    number
  >;
  private readonly takeOverRecord: LuaCommand<
    [session: string, seen: string, ...fields: string[]],
    number
  >;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly events: EventLog,
  ) {
    this.claimLease = defineLuaCommand(redis, 'waLeaseClaim', { numberOfKeys: 2, lua: CLAIM_LUA });
    this.renewLease = defineLuaCommand(redis, 'waLeaseRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    this.releaseLease = defineLuaCommand(redis, 'waLeaseRelease', {
      numberOfKeys: 1,
      lua: RELEASE_LUA,
    });
    this.writeFenced = defineLuaCommand(redis, 'waSessionWrite', {
      numberOfKeys: 3,
      lua: WRITE_STATE_LUA,
    });
    this.createRecord = defineLuaCommand(redis, 'waSessionCreate', {
      numberOfKeys: 1,
      lua: CREATE_LUA,
    });
    this.setConfigField = defineLuaCommand(redis, 'waSessionSetConfig', {
      numberOfKeys: 1,
      lua: SET_CONFIG_FIELD_LUA,
    });
    this.takeOverRecord = defineLuaCommand(redis, 'waSessionTakeOver', {
      numberOfKeys: 1,
      lua: TAKE_OVER_LUA,
    });
  }

  /**
   * Creates a session; false when the id is taken. The record is written in one step, then
   * listed: of concurrent creates of one id exactly one writes it (the old hsetnx-then-zscore
   * let a second create "finish" the first one's record and answer 201 as well).
   */
  async create(config: SessionConfig): Promise<boolean> {
    const key = this.keys.session(config.id);
    const fields = Object.entries({
      id: config.id,
      driver: config.driver,
      rateLimit: JSON.stringify(config.rateLimit),
      webhook: JSON.stringify(config.webhook),
      simulator: JSON.stringify(config.simulator),
      createdAt: config.createdAt,
      state: JSON.stringify(INITIAL_SESSION_STATE),
    }).flat();
    if ((await this.createRecord(key, ...fields)) !== 1) {
      // Taken, unless an earlier create died between its two writes: take that one over, once
      // it is clearly abandoned (a live create lists its record within milliseconds).
      const [listed, seen] = await Promise.all([
        this.redis.zscore(this.keys.sessions(), config.id),
        this.redis.hmget(key, 'createdAt', 'driver'),
      ]);
      if (listed !== null) return false;
      const [createdAt, driver] = seen;
      const abandoned =
        !driver || !createdAt || Date.now() - Date.parse(createdAt) > ABANDONED_CREATE_MS;
      if (!abandoned) return false;
      if ((await this.takeOverRecord(key, createdAt ?? '', ...fields)) !== 1) return false;
    }
    await this.redis.zadd(this.keys.sessions(), Date.parse(config.createdAt), config.id);
    return true;
  }

  async ids(): Promise<string[]> {
    return this.redis.zrange(this.keys.sessions(), '0', '-1');
  }

  async get(id: string): Promise<StoredSession | null> {
    const h = await this.redis.hgetall(this.keys.session(id));
    if (!h.id || !h.driver) return null;
    return {
      config: {
        id: h.id,
        driver: h.driver as SessionConfig['driver'],
        rateLimit: JSON.parse(h.rateLimit) as SessionConfig['rateLimit'],
        webhook: JSON.parse(h.webhook ?? 'null') as SessionConfig['webhook'],
        simulator: JSON.parse(h.simulator ?? 'null') as SessionConfig['simulator'],
        createdAt: h.createdAt,
      },
      state: {
        ...INITIAL_SESSION_STATE,
        ...(JSON.parse(h.state ?? '{}') as Partial<SessionState>),
      },
    };
  }

  /**
   * Replaces a session's webhook endpoint (null: none); false when the session does not exist.
   * Deliveries read the endpoint when they are made, so queued ones use the new one.
   */
  async setWebhook(id: string, webhook: SessionConfig['webhook']): Promise<boolean> {
    return (
      (await this.setConfigField(this.keys.session(id), 'webhook', JSON.stringify(webhook))) === 1
    );
  }

  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.session(id))) === 1;
  }

  /**
   * Removes a session from the registry (its record, its pacing). The lease stays until its
   * owner has stopped and releases it (or it lapses): while it exists, a worker still runs the
   * session and its data must not be purged under it.
   */
  async remove(id: string): Promise<void> {
    await this.redis.zrem(this.keys.sessions(), id);
    await this.redis.del(this.keys.session(id), this.keys.pacing(id), this.keys.pacingNext(id));
  }

  /**
   * Marks a session as being deleted: no worker claims it from now on, and its data is purged
   * only once the deletion is {@link markDeleted} (its unsent messages are cancelled).
   */
  async markDeleting(id: string): Promise<void> {
    await this.redis.zadd(this.keys.deletedSessions(), -Date.now(), id);
  }

  /** The deletion has cancelled what it had to: the session's data may be purged. */
  async markDeleted(id: string): Promise<void> {
    await this.redis.zadd(this.keys.deletedSessions(), Date.now(), id);
  }

  /** Sessions deleted but not purged yet: `since` is negative while the deletion runs. */
  async deletions(): Promise<{ id: string; since: number }[]> {
    const flat = await this.redis.zrange(this.keys.deletedSessions(), '0', '-1', 'WITHSCORES');
    const out: { id: string; since: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i], since: Number(flat[i + 1]) });
    return out;
  }

  /** The deletion mark of one session (see {@link deletions}), or null. */
  async deletion(id: string): Promise<number | null> {
    const score = await this.redis.zscore(this.keys.deletedSessions(), id);
    return score === null ? null : Number(score);
  }

  async forgetDeletion(id: string): Promise<void> {
    await this.redis.zrem(this.keys.deletedSessions(), id);
  }

  /**
   * Replaces the reported state, only while `lease` is still the session's lease. `event` (the
   * change's `session.status`) is recorded with it and then moved to the event stream; if that
   * move fails, the consistency check's repair of the session's outbox finishes it.
   */
  async writeState(
    id: string,
    lease: SessionLease,
    state: SessionState,
    event?: GatewayEvent<SessionStatusEventData>,
  ): Promise<boolean> {
    const json = event ? JSON.stringify(event) : '';
    const ok = await this.writeFenced(
      this.keys.session(id),
      this.keys.lease(id),
      this.keys.sessionOutbox(id),
      leaseValue(lease),
      json,
      'state',
      JSON.stringify(state),
    );
    if (ok === 1 && json)
      await this.events.flush(this.keys.sessionOutbox(id), json).catch(() => undefined);
    return ok === 1;
  }

  async claim(id: string, workerId: string, ttlMs: number): Promise<SessionLease | null> {
    const token = await this.claimLease(
      this.keys.lease(id),
      this.keys.leaseToken(id),
      workerId,
      ttlMs,
    );
    return token ? { workerId, token: Number(token) } : null;
  }

  async renew(id: string, lease: SessionLease, ttlMs: number): Promise<boolean> {
    return (await this.renewLease(this.keys.lease(id), leaseValue(lease), ttlMs)) === 1;
  }

  async release(id: string, lease: SessionLease): Promise<void> {
    await this.releaseLease(this.keys.lease(id), leaseValue(lease));
  }

  /** True while `lease` is still the session's current lease (same worker and token). */
  async isCurrent(id: string, lease: SessionLease): Promise<boolean> {
    return (await this.redis.get(this.keys.lease(id))) === leaseValue(lease);
  }

  async owner(id: string): Promise<SessionLease | null> {
    return parseLease(await this.redis.get(this.keys.lease(id)));
  }

  /** Owners of many sessions in one round trip. */
  async owners(ids: string[]): Promise<(SessionLease | null)[]> {
    if (ids.length === 0) return [];
    // One GET per lease (each on its session's slot), sent together.
    const values = await Promise.all(ids.map((id) => this.redis.get(this.keys.lease(id))));
    return values.map((v) => parseLease(v));
  }
}

export function leaseValue(lease: SessionLease): string {
  return `${lease.workerId}|${lease.token}`;
}

function parseLease(value: string | null): SessionLease | null {
  if (!value) return null;
  const i = value.lastIndexOf('|');
  return { workerId: value.slice(0, i), token: Number(value.slice(i + 1)) };
}
