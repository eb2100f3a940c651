import type { Redis } from 'ioredis';
import { redisUpGauge, withTimeout } from '@app/core';
import { queueDepth } from '@app/queue';
import { SESSION_STATUSES, type SessionStatus } from '@app/session';
import { sessionGauges } from './session.metrics';

/** Longest a scrape waits for Redis: a slow Redis must not make every scrape time out. */
const SCRAPE_REDIS_TIMEOUT_MS = 2000;

/** What the collector reads of one owned session (a `SessionRuntime` fits). */
export interface OwnedSession {
  readonly sessionId: string;
  readonly status: SessionStatus;
  readonly memoryMb: number | null;
  /** BullMQ's key of one of the queue's structures (`Queue.toKey`). */
  readonly queue: { toKey(type: string): string };
}

/**
 * Sets the worker's scrape-time gauges: status and browser memory from memory (the runtimes),
 * queue depths from Redis in one round trip: one pipeline per session, on that session's own
 * slot (Redis Cluster refuses a pipeline across slots), all sent together. Never a SCAN: the
 * work is bounded by the sessions this worker owns (WORKER_MAX_SESSIONS).
 */
export class WorkerMetricsCollector {
  constructor(
    private readonly owned: () => readonly OwnedSession[],
    private readonly redis: Redis,
    private readonly memoryLimitMb: number,
  ) {}

  async refresh(): Promise<void> {
    const sessions = this.owned();
    const g = sessionGauges;
    // Sessions handed over or stopped since the last scrape leave the output.
    g.status.reset();
    g.queueJobs.reset();
    g.queuePaused.reset();
    g.browserMemory.reset();
    g.owned.set(sessions.length);
    g.memoryLimit.set(this.memoryLimitMb * 1024 * 1024);
    for (const s of sessions) {
      for (const status of SESSION_STATUSES)
        g.status.set({ session: s.sessionId, status }, status === s.status ? 1 : 0);
      if (s.memoryMb !== null)
        g.browserMemory.set({ session: s.sessionId }, s.memoryMb * 1024 * 1024);
    }
    // The worker's connection queues commands while Redis is away (it waits outages out):
    // asking then would only pile up commands, one set per scrape.
    if (this.redis.status !== 'ready') {
      redisUpGauge.set(0);
      return;
    }
    try {
      const depths = await withTimeout(
        Promise.all(sessions.map((s) => queueDepth(this.redis, s.queue))),
        SCRAPE_REDIS_TIMEOUT_MS,
      );
      redisUpGauge.set(1);
      sessions.forEach((s, i) => {
        const d = depths[i];
        const session = s.sessionId;
        g.queueJobs.set({ session, state: 'waiting' }, d.waiting);
        g.queueJobs.set({ session, state: 'active' }, d.active);
        g.queueJobs.set({ session, state: 'delayed' }, d.delayed);
        g.queueJobs.set({ session, state: 'failed' }, d.failed);
        g.queuePaused.set({ session }, d.paused ? 1 : 0);
      });
    } catch {
      redisUpGauge.set(0);
    }
  }
}
