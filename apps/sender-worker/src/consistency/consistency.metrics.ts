import { Counter, Registry } from 'prom-client';

/** The worker's Prometheus registry (exposed by a /metrics endpoint in a later change). */
export const workerRegistry = new Registry();

/** Records the consistency check or the failed-job listener settled, by outcome. */
export const consistencyFixed = new Counter({
  name: 'wa_consistency_fixed_total',
  help: 'Message records left unfinished by a job that ended, settled by the worker',
  labelNames: ['outcome', 'source'] as const,
  registers: [workerRegistry],
});
