import type { JobsOptions } from 'bullmq';
import { ConfigError, type EnvReader } from '@app/core';
import type { WebhookEndpointKind } from './webhook.types';

/**
 * Delays between delivery attempts (the Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h,
 * 5 h, 10 h, 10 h ≈ 27.6 h). WEBHOOK_RETRY_SCHEDULE_MS overrides it.
 */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

/**
 * WEBHOOK_RETRY_SCHEDULE_MS: comma-separated delays (ms, each at most a week, 1–20 of them).
 * Read by the worker (its backoff) and the gateway (a replay's attempts), so both agree.
 */
export function readWebhookRetrySchedule(env: EnvReader): readonly number[] {
  const raw = env.list('WEBHOOK_RETRY_SCHEDULE_MS');
  if (raw.length === 0) return DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS;
  const steps = raw.map(Number);
  if (
    steps.length > 20 ||
    !steps.every((ms) => Number.isInteger(ms) && ms >= 0 && ms <= 7 * 86400_000)
  ) {
    throw new ConfigError(
      'WEBHOOK_RETRY_SCHEDULE_MS',
      'must be 1–20 comma-separated delays in milliseconds, each between 0 and 604800000',
    );
  }
  return steps;
}

/** The BullMQ backoff type of delivery jobs: the worker's backoff strategy owns the delays. */
export const WEBHOOK_BACKOFF = 'webhook';

/**
 * Options of a delivery job, for the worker's first delivery and the gateway's replay alike:
 * one attempt per step of the schedule plus the first. A completed job is removed (the
 * delivered marker dedupes); a failed one is kept a week for Bull Board.
 */
export function webhookJobOptions(
  jobId: string,
  retryScheduleMs: readonly number[] = DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS,
): JobsOptions {
  return {
    jobId,
    attempts: retryScheduleMs.length + 1,
    backoff: { type: WEBHOOK_BACKOFF },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 86400 },
  };
}

/** Job id of replay number `n` (1 for the first) of a dead-lettered delivery. */
export function replayJobId(deliveryId: string, n: number): string {
  return `${deliveryId}.r${n}`;
}

/**
 * The field of an endpoint in the `webhookDisabled()` HASH (set when it answered 410 Gone):
 * `session:<id>` for a session's own webhook, `global` for WEBHOOK_URL.
 */
export function disabledEndpointField(kind: WebhookEndpointKind, session: string): string {
  return kind === 'session' ? `session:${session}` : 'global';
}
