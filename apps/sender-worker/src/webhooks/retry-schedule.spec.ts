import { DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS } from '@app/queue';
import {
  parseRetryAfter,
  RETRY_AFTER_MAX_MS,
  retryDelay,
  webhookBackoffStrategy,
  WebhookRetryError,
} from './retry-schedule';

const schedule = [1000, 60_000, 3_600_000];

describe('webhook retry schedule', () => {
  it('defaults to the Standard Webhooks schedule: 8 attempts over more than 24 hours', () => {
    const total = DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0);
    expect(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.length + 1).toBe(8);
    expect(total).toBeGreaterThan(24 * 3600_000);
  });

  it('gives up no sooner than the whole schedule after the first attempt, whatever the jitter', () => {
    const low = () => 0;
    let elapsed = 0;
    for (let failures = 1; failures <= DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.length; failures++) {
      elapsed += retryDelay(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS, failures, {
        random: low,
        elapsedMs: elapsed,
      });
    }
    expect(elapsed).toBeGreaterThanOrEqual(
      DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.reduce((a, b) => a + b),
    );
    expect(elapsed).toBeGreaterThan(24 * 3600_000);
  });

  it('waits the scheduled step after each failure, ±20 % jitter', () => {
    expect(retryDelay(schedule, 1, { random: () => 0.5 })).toBe(1000);
    expect(retryDelay(schedule, 2, { random: () => 0 })).toBe(48_000);
    expect(retryDelay(schedule, 2, { random: () => 1 })).toBe(72_000);
    for (let i = 0; i < 200; i++) {
      const d = retryDelay(schedule, 3);
      expect(d).toBeGreaterThanOrEqual(0.8 * 3_600_000);
      expect(d).toBeLessThanOrEqual(1.2 * 3_600_000);
    }
  });

  it('draws different delays for deliveries that failed together', () => {
    const draws = new Set(Array.from({ length: 50 }, () => retryDelay(schedule, 3)));
    expect(draws.size).toBeGreaterThan(10);
  });

  it('repeats the last step past the end of the schedule (a replay given more attempts)', () => {
    expect(retryDelay(schedule, 9, { random: () => 0.5 })).toBe(3_600_000);
  });

  it('lets Retry-After lengthen a wait, never shorten it, up to a bound', () => {
    expect(retryDelay(schedule, 1, { retryAfterMs: 30_000, random: () => 0.5 })).toBe(30_000);
    expect(retryDelay(schedule, 2, { retryAfterMs: 5_000, random: () => 0.5 })).toBe(60_000);
    expect(retryDelay(schedule, 1, { retryAfterMs: 100 * 3600_000, random: () => 0.5 })).toBe(
      RETRY_AFTER_MAX_MS,
    );
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });

  it("is BullMQ's backoff strategy, reading Retry-After from the error thrown", () => {
    const strategy = webhookBackoffStrategy([10, 20]);
    expect(strategy(1, 'webhook-schedule', new Error('x'))).toBeLessThanOrEqual(12);
    expect(strategy(1, 'webhook-schedule', new WebhookRetryError('503', 5000))).toBe(5000);
  });
});
