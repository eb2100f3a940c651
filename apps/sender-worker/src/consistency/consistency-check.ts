import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { EventLog, RedisKeys } from '@app/core';
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

/** Ids examined per session and pass, oldest first; the next pass goes on where this one stopped. */
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
 *
 * It also finishes what a crash left between recording a fact and moving its event to the
 * stream: the session's outbox, and the outbox of every message in the index (a message stays
 * in the index until its last event is in the stream).
 */
export class ConsistencyCheck {
  private readonly events: EventLog;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly settler: RecordSettler,
    private readonly graceMs: number,
    private readonly batch = BATCH,
  ) {
    this.events = new EventLog(redis, keys);
  }

  /**
   * Where the next pass of each session starts in its index. A backlog of live (queued) messages
   * older than the grace period must not hide a lost job behind it: passes walk the whole index,
   * `batch` ids at a time, and start over at the end.
   */
  private readonly offsets = new Map<string, number>();

  /** Returns how many records it settled. */
  async checkSession(s: CheckedSession, now = Date.now()): Promise<number> {
    await this.events.repair(this.keys.sessionOutbox(s.sessionId), this.graceMs, now);
    const offset = this.offsets.get(s.sessionId) ?? 0;
    const ids = await this.redis.zrangebyscore(
      this.keys.unfinished(s.sessionId),
      '-inf',
      now - this.graceMs,
      'LIMIT',
      offset,
      this.batch,
    );
    // Settled ids leave the index, so the next pass starts past the live ones only; an id
    // skipped by that shift is met on the next lap.
    let live = 0;
    let fixed = 0;
    const outboxes = await Promise.all(
      ids.map((id) => this.redis.llen(this.keys.messageOutbox(id))),
    );
    for (const [i, id] of ids.entries()) {
      if (outboxes[i] > 0) {
        const outbox = this.keys.messageOutbox(id);
        await this.events.repair(outbox, this.graceMs, now);
        // An event younger than the grace period is still on its writer's way: next pass.
        if ((await this.redis.llen(outbox)) > 0) {
          live++;
          continue;
        }
      }
      const job = await s.queue.getJob(id);
      const state = job ? await job.getState() : 'unknown';
      if (LIVE_STATES.has(state)) {
        live++;
        continue;
      }
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
      else if (outcome === 'left') live++;
    }
    if (ids.length < this.batch) this.offsets.delete(s.sessionId);
    else this.offsets.set(s.sessionId, offset + live);
    return fixed;
  }
}
