import { Counter } from 'prom-client';
import { metricsRegistry } from '@app/core';

/** Records the consistency check or the failed-job listener settled, by outcome. */
export const consistencyFixed = new Counter({
  name: 'wa_consistency_fixed_total',
  help: 'Message records left unfinished by a job that ended, settled by the worker',
  labelNames: ['outcome', 'source'] as const,
  registers: [metricsRegistry],
});
