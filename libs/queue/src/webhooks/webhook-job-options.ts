import type { JobsOptions } from 'bullmq';
import { ConfigError, type EnvReader } from '@app/core';
import type { WebhookEndpointKind } from './webhook.types';

/**
 * The backoff type every delivery job names. The delivering worker's `settings.backoffStrategy`
 * turns it into the retry schedule (WEBHOOK_RETRY_SCHEDULE_MS, jitter, Retry-After), so a job
 * added by anyone (the worker's router, the gateway's replay) retries on the same schedule.
 * RENAMING IT LEAVES QUEUED DELIVERIES WITHOUT A BACKOFF.
 */
export const WEBHOOK_BACKOFF_TYPE = 'webhook-schedule';

/**
 * The Standard Webhooks retry schedule (delays between attempts, ms): 5 s, 5 min, 30 min, 2 h,
 * 5 h, 10 h, 10 h: 8 attempts over about 27.6 hours (the contract asks for at least 24 h).
 */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

/**
 * WEBHOOK_RETRY_SCHEDULE_MS: comma-separated delays (ms, 1 to a week each, at most 50). Read by
 * the worker (its backoff) and the gateway (a replay's attempts), so both agree.
 */
export function readWebhookRetrySchedule(env: EnvReader): number[] {
  const list = env.list('WEBHOOK_RETRY_SCHEDULE_MS');
  if (list.length === 0) return [...DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS];
  if (list.length > 50) {
    throw new ConfigError('WEBHOOK_RETRY_SCHEDULE_MS', 'must list at most 50 delays');
  }
  return list.map((entry) => {
    const ms = /^\d+$/.test(entry) ? Number(entry) : NaN;
    if (!Number.isSafeInteger(ms) || ms < 1 || ms > 7 * 86400000) {
      throw new ConfigError(
        'WEBHOOK_RETRY_SCHEDULE_MS',
        `must be a comma-separated list of delays in ms (1 to 604800000), got "${entry}"`,
      );
    }
    return ms;
  });
}

/** How long a failed delivery job stays in BullMQ (Bull Board); its dead letter is the record. */
export const WEBHOOK_FAILED_JOB_RETENTION_SECONDS = 7 * 86400;

/** How long a dead letter is kept for listing and replay. */
export const WEBHOOK_DEAD_LETTER_RETENTION_SECONDS = 30 * 86400;

/**
 * Options of a delivery job (the caller adds its `jobId`). Completed jobs go at once: the
 * delivered marker, not the job, keeps a delivery from being repeated.
 */
export function webhookJobOptions(attempts: number): JobsOptions {
  return {
    attempts,
    backoff: { type: WEBHOOK_BACKOFF_TYPE },
    removeOnComplete: true,
    removeOnFail: { age: WEBHOOK_FAILED_JOB_RETENTION_SECONDS },
  };
}

/**
 * The key of an endpoint in the disabled-endpoints HASH (`RedisKeys.webhookDisabled()`):
 * `session:<id>` or `global`.
 */
export function webhookEndpointKey(kind: WebhookEndpointKind, session: string): string {
  return kind === 'global' ? 'global' : `session:${session}`;
}

/** The job id of the n-th replay (1, 2, …) of a dead-lettered delivery. */
export function webhookReplayJobId(deliveryId: string, n: number): string {
  return `${deliveryId}.r${n}`;
}
