/**
 * When a failed delivery is tried again: the configured schedule (WEBHOOK_RETRY_SCHEDULE_MS, the
 * Standard Webhooks one by default) with ±20 % jitter, so endpoints that failed together are not
 * hit together again; a receiver's `Retry-After` (429, 503) can lengthen a wait, never shorten
 * it (shortening would burn the attempts and end the 24 h window early), up to a bound.
 */

/** ±20 % around each scheduled delay. */
export const RETRY_JITTER = 0.2;

/** The longest wait a `Retry-After` can ask for. */
export const RETRY_AFTER_MAX_MS = 6 * 3600_000;

/** Statuses whose `Retry-After` is honoured. */
export const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

export interface RetryContext {
  /** The receiver's `Retry-After` (429, 503), in ms. */
  retryAfterMs?: number | null;
  /** Time since the delivery was first queued: the last wait tops the window up to the schedule's sum. */
  elapsedMs?: number;
  random?: () => number;
}

/**
 * The delay before the next attempt after `failures` failed ones (1 after the first). Past the
 * end of the schedule (a replay given more attempts) the last step repeats. Jitter could make
 * the waits add up to less than the schedule (down to 80 %: under 24 h for the default one), so
 * the last wait is at least what remains of the schedule's sum since the delivery was queued:
 * a delivery is given up no sooner than the whole schedule after its first attempt.
 */
export function retryDelay(
  schedule: readonly number[],
  failures: number,
  ctx: RetryContext = {},
): number {
  const random = ctx.random ?? Math.random;
  const step = schedule[Math.min(Math.max(failures, 1), schedule.length) - 1] ?? 0;
  let delay = Math.round(step * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random()));
  if (failures >= schedule.length && ctx.elapsedMs !== undefined) {
    const window = schedule.reduce((sum, ms) => sum + ms, 0);
    delay = Math.max(delay, window - ctx.elapsedMs);
  }
  if (ctx.retryAfterMs === null || ctx.retryAfterMs === undefined) return delay;
  return Math.max(delay, Math.min(ctx.retryAfterMs, RETRY_AFTER_MAX_MS));
}

/**
 * A `Retry-After` header in ms from `now`: delay-seconds or an HTTP date (RFC 9110 10.2.3);
 * null when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/**
 * What a failed attempt throws so BullMQ retries it: the backoff strategy reads `retryAfterMs`
 * from it (BullMQ hands the error to the strategy).
 */
export class WebhookRetryError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
  ) {
    super(message);
    this.name = 'WebhookRetryError';
  }
}

/** BullMQ's `settings.backoffStrategy` for delivery jobs, over a schedule. */
export function webhookBackoffStrategy(schedule: readonly number[]) {
  return (failures: number, _type?: string, err?: Error, job?: { timestamp?: number }): number =>
    retryDelay(schedule, failures, {
      retryAfterMs: err instanceof WebhookRetryError ? err.retryAfterMs : null,
      elapsedMs: job?.timestamp ? Math.max(0, Date.now() - job.timestamp) : undefined,
    });
}
