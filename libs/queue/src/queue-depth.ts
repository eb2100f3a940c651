import type { Redis } from 'ioredis';

/** What a queue's counts are read through: BullMQ's `Queue` fits, or {@link queueKeys}. */
export interface QueueKeyOf {
  toKey(type: string): string;
}

export interface QueueDepth {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  paused: boolean;
}

/** A queue's keys without a `Queue` object (making one writes its meta key): as BullMQ names them. */
export function queueKeys(prefix: string, name: string): QueueKeyOf {
  return { toKey: (type) => `${prefix}:${name}:${type}` };
}

/**
 * A queue's counts in one pipeline (a queue's keys share its hash tag: one slot, so this works
 * on Redis Cluster too). The structures BullMQ's own `getJobCounts` reads: waiting is the wait
 * list, the legacy paused list and the prioritized set. For metrics: cheap enough for every
 * scrape, and several queues' pipelines go out together.
 */
export async function queueDepth(redis: Redis, queue: QueueKeyOf): Promise<QueueDepth> {
  const results = await redis
    .pipeline()
    .llen(queue.toKey('wait'))
    .llen(queue.toKey('paused'))
    .zcard(queue.toKey('prioritized'))
    .llen(queue.toKey('active'))
    .zcard(queue.toKey('delayed'))
    .zcard(queue.toKey('failed'))
    .hexists(queue.toKey('meta'), 'paused')
    .exec();
  if (!results) throw new Error('pipeline not executed');
  const n = results.map(([err, value]) => {
    if (err) throw err;
    return Number(value);
  });
  return {
    waiting: n[0] + n[1] + n[2],
    active: n[3],
    delayed: n[4],
    failed: n[5],
    paused: n[6] === 1,
  };
}
