import type { Redis } from 'ioredis';
import type { GatewayEvent, RedisKeys } from '@app/core';
import type { WebhookAttempt, WebhookDeadLetter, WebhookEndpoint } from './webhook.types';

/**
 * How long a delivery's replay count is kept after its last replay: longer than a replay job
 * can live (its retries, ≈28 h, then 7 days kept as failed), so its job id is never reused.
 */
const REPLAY_COUNT_TTL_SECONDS = 30 * 86400;

/**
 * Dead-lettered webhook deliveries: one HASH each (kept `retentionSeconds`), indexed by time of
 * death globally and per session. The worker writes them; the gateway lists and replays them.
 */
export class WebhookDeadLetterStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly retentionSeconds: number,
  ) {}

  /** Keeps a delivery given up on. Idempotent (a re-run of the last attempt rewrites it). */
  async add(letter: Omit<WebhookDeadLetter, 'replays'>): Promise<void> {
    const key = this.keys.webhookDeadLetter(letter.id);
    const score = Date.parse(letter.deadAt);
    await this.redis
      .multi()
      .hset(key, {
        id: letter.id,
        session: letter.session,
        event: JSON.stringify(letter.event),
        endpoint: JSON.stringify(letter.endpoint),
        attempts: JSON.stringify(letter.attempts),
        reason: JSON.stringify(letter.reason),
        deadAt: letter.deadAt,
      })
      .hsetnx(key, 'replays', '0')
      .expire(key, this.retentionSeconds)
      .exec();
    await Promise.all([
      this.redis.zadd(this.keys.webhookDeadLetters(), score, letter.id),
      this.redis.zadd(this.keys.webhookDeadLetters(letter.session), score, letter.id),
    ]);
  }

  async get(id: string): Promise<WebhookDeadLetter | null> {
    const [h, replayed] = await Promise.all([
      this.redis.hgetall(this.keys.webhookDeadLetter(id)),
      this.redis.get(this.keys.webhookReplayCount(id)),
    ]);
    if (!h.id) return null;
    return {
      id: h.id,
      session: h.session,
      event: JSON.parse(h.event) as GatewayEvent,
      endpoint: JSON.parse(h.endpoint) as WebhookEndpoint,
      attempts: JSON.parse(h.attempts) as WebhookAttempt[],
      reason: JSON.parse(h.reason) as WebhookDeadLetter['reason'],
      deadAt: h.deadAt,
      // A delivery dead-lettered again after a replay starts a new record: its replays so far
      // are in the counter that outlives records.
      replays: Math.max(Number(h.replays ?? 0), Number(replayed ?? 0)),
    };
  }

  /** How many dead letters there are (of one session when given). */
  async count(session?: string): Promise<number> {
    return this.redis.zcard(this.keys.webhookDeadLetters(session));
  }

  /** Dead letters, newest first (of one session when given); expired entries are pruned. */
  async list(opts: {
    session?: string;
    limit: number;
    offset?: number;
  }): Promise<WebhookDeadLetter[]> {
    const index = this.keys.webhookDeadLetters(opts.session);
    const offset = opts.offset ?? 0;
    const ids = await this.redis.zrevrange(index, offset, offset + opts.limit - 1);
    const letters = await Promise.all(ids.map((id) => this.get(id)));
    const gone = ids.filter((_, i) => letters[i] === null);
    if (gone.length) await this.redis.zrem(index, ...gone);
    return letters.filter((l): l is WebhookDeadLetter => l !== null);
  }

  /**
   * Records that replay number `n` of a dead letter is queued and forgets the dead letter. The
   * count and the removal are one step (one slot), so a replay call that crashed before it
   * finishes here and is retried computes the same `n`, hence the same job id. The count
   * outlives the dead letter (REPLAY_COUNT_TTL_SECONDS) so that the next replay of the same
   * delivery, dead-lettered again, never reuses a job id its earlier replay job still holds.
   */
  async settleReplay(letter: Pick<WebhookDeadLetter, 'id' | 'session'>, n: number): Promise<void> {
    await this.redis
      .multi()
      .set(
        this.keys.webhookReplayCount(letter.id),
        String(n),
        'EX',
        Math.max(this.retentionSeconds, REPLAY_COUNT_TTL_SECONDS),
      )
      .del(this.keys.webhookDeadLetter(letter.id))
      .exec();
    // A crash here leaves index entries without a record: list() prunes them.
    await Promise.all([
      this.redis.zrem(this.keys.webhookDeadLetters(), letter.id),
      this.redis.zrem(this.keys.webhookDeadLetters(letter.session), letter.id),
    ]);
  }

  /** Forgets a dead letter (after its replay is queued). */
  async remove(id: string, session: string): Promise<void> {
    await this.redis.del(this.keys.webhookDeadLetter(id));
    await Promise.all([
      this.redis.zrem(this.keys.webhookDeadLetters(), id),
      this.redis.zrem(this.keys.webhookDeadLetters(session), id),
    ]);
  }
}
