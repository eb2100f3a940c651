import { ConfigError, EnvReader } from '@app/core';
import {
  DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS,
  readWebhookRetrySchedule,
  WEBHOOK_BACKOFF_TYPE,
  webhookJobOptions,
} from './webhook-job-options';

const schedule = (raw?: string) =>
  readWebhookRetrySchedule(
    new EnvReader(raw === undefined ? {} : { WEBHOOK_RETRY_SCHEDULE_MS: raw }),
  );

describe('webhook retry schedule and job options', () => {
  it('defaults to the Standard Webhooks schedule (≈27.6 h), one attempt per step plus the first', () => {
    expect(schedule()).toEqual([5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000]);
    const total = DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0);
    expect(total / 3600_000).toBeCloseTo(27.6, 1);
    expect(webhookJobOptions(schedule().length + 1)).toMatchObject({
      attempts: 8,
      backoff: { type: WEBHOOK_BACKOFF_TYPE },
      removeOnComplete: true,
    });
  });

  it('reads a custom schedule and refuses a malformed one', () => {
    expect(schedule('100, 200')).toEqual([100, 200]);
    expect(schedule('100,200')).toHaveLength(2);
    for (const bad of [
      '1,x',
      '-1',
      '0',
      '1.5',
      String(8 * 86400_000),
      Array(51).fill(1).join(','),
    ]) {
      expect(() => schedule(bad)).toThrow(ConfigError);
    }
  });
});
