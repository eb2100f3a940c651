import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { defineLuaCommand, REDIS, RedisKeys, type LuaCommand } from '@app/core';
import { ApiError } from '../common/api-error';
import { isRedisUnavailable } from '../common/error-shape';

const RETENTION_S = 24 * 3600;
/** A first request older than this that never finished is taken to have died. */
const IN_FLIGHT_MS = 10000;

interface IdempotencyRecord {
  state: 'pending' | 'done';
  /** Fingerprint of the request (method, path, body). */
  hash: string;
  ids: string[];
  at: number;
}

/** Replaces a record only if it is still the one we read (a takeover race has one winner). */
const TAKEOVER_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
`;

export interface IdempotentResult {
  ids: string[];
  replayed: boolean;
}

/**
 * Idempotency-Key as the IETF draft has it: the same key and body within 24 h answer with the
 * first answer; another body is 422; a request while the first is still running is 409.
 *
 * The message ids are fixed when the key is first seen and stored with it, so a retry after a
 * gateway crash in mid-request resumes with the same ids: the handler's writes are keyed by
 * them (BullMQ ignores a job id it already has), and nothing is enqueued twice.
 */
@Injectable()
export class IdempotencyService {
  private readonly takeOver: LuaCommand<[key: string, seen: string, resumed: string], number>;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.takeOver = defineLuaCommand(redis, 'waIdemTakeover', {
      numberOfKeys: 1,
      lua: TAKEOVER_LUA,
    });
  }

  /**
   * The answer a request with this key already has, or null when it must run: a completed
   * request with the same body is replayed, another body is 422, one still in flight is 409. A
   * pending record gone stale (its request died) is null: `run` resumes it with its ids.
   * Read-only, so it can come before validation and admission.
   */
  async lookup(scope: string, key: string, hash: string): Promise<IdempotentResult | null> {
    const json = await this.redis.get(this.keys.idempotency(scope, key));
    if (json === null) return null;
    const previous = JSON.parse(json) as IdempotencyRecord;
    if (previous.hash !== hash) throw reusedKey();
    if (previous.state === 'done') return { ids: previous.ids, replayed: true };
    if (Date.now() - previous.at < IN_FLIGHT_MS) throw inProgress();
    return null;
  }

  async run(
    scope: string,
    key: string,
    hash: string,
    freshIds: string[],
    handler: (ids: string[], resumed: boolean) => Promise<void>,
  ): Promise<IdempotentResult> {
    const redisKey = this.keys.idempotency(scope, key);
    const mine: IdempotencyRecord = { state: 'pending', hash, ids: freshIds, at: Date.now() };
    const mineJson = JSON.stringify(mine);
    const previousJson = (await this.redis.call(
      'SET',
      redisKey,
      mineJson,
      'NX',
      'GET',
      'EX',
      RETENTION_S,
    )) as string | null;

    if (previousJson === null) {
      try {
        await handler(freshIds, false);
      } catch (err) {
        // Refused before anything was written (4xx): forget the key so a corrected retry can
        // use it. After a 5xx some writes may have landed (a reply lost in an outage): keep
        // the pending record, so a retry resumes with the same ids instead of new ones.
        if (!(err instanceof ApiError && err.getStatus() < 500)) throw err;
        await this.redis
          .eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            1,
            redisKey,
            mineJson,
          )
          .catch(() => 0);
        throw err;
      }
      await this.complete(redisKey, mine);
      return { ids: freshIds, replayed: false };
    }

    const previous = JSON.parse(previousJson) as IdempotencyRecord;
    if (previous.hash !== hash) {
      throw new ApiError(
        422,
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was used with another request body',
      );
    }
    if (previous.state === 'done') return { ids: previous.ids, replayed: true };
    if (Date.now() - previous.at < IN_FLIGHT_MS) {
      throw new ApiError(
        409,
        'IDEMPOTENCY_IN_PROGRESS',
        'A request with this Idempotency-Key is still being handled; retry shortly',
        { 'Retry-After': '1' },
      );
    }
    // The first request died mid-way: resume it, with its ids.
    const resumed: IdempotencyRecord = { ...previous, at: Date.now() };
    const taken = await this.takeOver(redisKey, previousJson, JSON.stringify(resumed));
    if (!taken) {
      throw new ApiError(
        409,
        'IDEMPOTENCY_IN_PROGRESS',
        'A request with this Idempotency-Key is still being handled; retry shortly',
        { 'Retry-After': '1' },
      );
    }
    await handler(previous.ids, true);
    await this.complete(redisKey, resumed);
    return { ids: previous.ids, replayed: false };
  }

  /**
   * Marks the key done. The messages are stored by then: if Redis cannot take the mark, the
   * request is still answered 202 (a 503 would make the client retry a request that worked); the
   * key stays pending, so a retry after IN_FLIGHT_MS resumes with the same ids and adds nothing.
   */
  private async complete(redisKey: string, record: IdempotencyRecord): Promise<void> {
    const done: IdempotencyRecord = { ...record, state: 'done' };
    try {
      await this.redis.set(redisKey, JSON.stringify(done), 'KEEPTTL');
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
    }
  }
}

function reusedKey(): ApiError {
  return new ApiError(
    422,
    'IDEMPOTENCY_KEY_REUSED',
    'This Idempotency-Key was used with another request body',
  );
}

function inProgress(): ApiError {
  return new ApiError(
    409,
    'IDEMPOTENCY_IN_PROGRESS',
    'A request with this Idempotency-Key is still being handled; retry shortly',
    { 'Retry-After': '1' },
  );
}
