import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { RedisKeys } from '@app/core';
import type { SessionDriver } from '@app/session';
import { errorFromFailedReason, type RecordSettler } from './record-settler';

/** Job states in which the job will still end its record itself. */
const LIVE_STATES = new Set([
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'paused',
]);

/** Ids examined per session and pass, oldest first. */
const BATCH = 500;

/** One session as the check sees it. */
export interface CheckedSession {
  sessionId: string;
  queue: Queue;
  /** The driver while the session is ready (to reconcile open send intents), else null. */
  driver: SessionDriver | null;
}

/**
 * Finds a session's records that are not final while their job is gone or finished, from the
 * session's index of unfinished records (no SCAN), and settles them. Records younger than the
 * grace period are skipped: the gateway writes the record before the job, and must not lose a
 * race with this check.
 */
export class ConsistencyCheck {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly settler: RecordSettler,
    private readonly graceMs: number,
  ) {}

  /** Returns how many records it settled. */
  async checkSession(s: CheckedSession, now = Date.now()): Promise<number> {
    const ids = await this.redis.zrangebyscore(
      this.keys.unfinished(s.sessionId),
      '-inf',
      now - this.graceMs,
      'LIMIT',
      0,
      BATCH,
    );
    let fixed = 0;
    for (const id of ids) {
      const job = await s.queue.getJob(id);
      const state = job ? await job.getState() : 'unknown';
      if (LIVE_STATES.has(state)) continue;
      const error =
        state === 'failed'
          ? errorFromFailedReason(job?.failedReason)
          : {
              code: 'JOB_LOST',
              message:
                state === 'completed'
                  ? 'the job completed without settling the message'
                  : 'the message’s job is gone from the queue',
            };
      const outcome = await this.settler.settle(s.sessionId, id, error, {
        driver: s.driver,
        job: job ?? null,
        source: 'checker',
      });
      if (outcome === 'sent' || outcome === 'failed') fixed++;
    }
    return fixed;
  }
}
