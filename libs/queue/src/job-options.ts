import type { JobsOptions } from 'bullmq';
import { PRIORITY } from './queue.constants';
import type { SendMessageJob } from './jobs';

export interface SendJobPolicy {
  /** MESSAGE_MAX_ATTEMPTS: retryable errors a message may meet before it is failed. */
  maxAttempts: number;
  /** First retry delay; doubles each attempt, with jitter. */
  backoffMs: number;
}

export const DEFAULT_SEND_JOB_POLICY: SendJobPolicy = { maxAttempts: 5, backoffMs: 2000 };

/**
 * Options of a send job. The job id is the message id, so adding the same message twice is a
 * no-op in BullMQ. Every job has a priority (never 0): BullMQ serves priority-0 jobs before all
 * prioritized ones, which would let a `normal` message overtake a `high` one.
 */
export function sendJobOptions(job: SendMessageJob, policy: SendJobPolicy): JobsOptions {
  const delay = job.sendAt ? Math.max(0, Date.parse(job.sendAt) - Date.now()) : 0;
  return {
    jobId: job.messageId,
    priority: PRIORITY[job.priority],
    delay: delay > 0 ? delay : undefined,
    attempts: policy.maxAttempts,
    backoff: { type: 'exponential', delay: policy.backoffMs, jitter: 0.5 },
    // The message record (MessageStore) is the durable truth, and a job carries the message's
    // content (inline media: megabytes) into a `noeviction` Redis: a completed job is removed at
    // once; a failed one is kept a day for Bull Board, its content stripped by the worker.
    removeOnComplete: true,
    removeOnFail: { age: 24 * 3600, count: 1000 },
  };
}
