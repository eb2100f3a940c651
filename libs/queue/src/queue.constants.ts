/**
 * Queue and job names. RENAMING ANY OF THESE BREAKS JOBS ALREADY QUEUED IN REDIS:
 * a worker of the new version would not find the old queues. Add, never rename.
 */

/** Session ids as the contract fixes them: lowercase, digits, `_` and `-`, 1–64 characters. */
export const SESSION_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * The outbound queue of one session. The `{…}` is a Redis Cluster hash tag: every key of the
 * queue (and every per-session key of ours) hashes to the same slot, so Lua scripts and MULTI
 * blocks touching them stay legal on a cluster.
 */
export function outboundQueueName(sessionId: string): string {
  return `out.{${sessionId}}`;
}

/** Inverse of {@link outboundQueueName}; null for a queue that is not an outbound queue. */
export function sessionIdOfQueue(queueName: string): string | null {
  const m = /^out\.\{([a-z0-9][a-z0-9_-]{0,63})\}$/.exec(queueName);
  return m ? m[1] : null;
}

export enum JobName {
  /** Send one message. Payload: {@link SendMessageJob}. */
  SendMessage = 'send-message',
}

/**
 * The workers' one fixed queue: periodic maintenance, each job run by one worker of the fleet
 * (registered with `BullModule.registerQueue`, consumed by the worker's `MaintenanceProcessor`).
 * The whole name is its Redis Cluster hash tag; the leading `_` keeps that tag out of the
 * session ids ({@link SESSION_ID_PATTERN} starts with a letter or digit), so no session's keys,
 * nor a session's purge (which deletes every key of its tag), can ever meet it.
 */
export const MAINTENANCE_QUEUE = '{_maintenance}';

/**
 * Jobs of {@link MAINTENANCE_QUEUE}. Each has one BullMQ job scheduler, whose id is the job's
 * name; a job carries no payload.
 */
export enum MaintenanceJobName {
  /** Mark `expired` the queued messages whose `expiresAt` passed (paused queues included). */
  ExpirySweep = 'expiry-sweep',
  /** Trim the event stream to its retention, never past what the webhook router has not routed. */
  EventStreamTrim = 'event-stream-trim',
}

/** BullMQ priorities (lower runs first). Every job carries one so FIFO holds within a level. */
export const PRIORITY = { high: 1, normal: 2, low: 3 } as const;
export type MessagePriority = keyof typeof PRIORITY;
