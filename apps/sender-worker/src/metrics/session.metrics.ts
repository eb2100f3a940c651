import { Gauge } from 'prom-client';
import { metricsRegistry } from '@app/core';

/**
 * Gauges of the sessions a worker owns, set at scrape time by that worker only: a session is
 * owned by one worker, so a sum over workers is the fleet's figure and no gateway replica
 * repeats it.
 */
export const sessionGauges = {
  status: new Gauge({
    name: 'wa_session_status',
    help: 'Status of each session this worker owns: 1 for its current status, 0 for the others',
    labelNames: ['session', 'status'] as const,
    registers: [metricsRegistry],
  }),
  queueJobs: new Gauge({
    name: 'wa_session_queue_jobs',
    help: "Jobs in the session's outbound queue by state (waiting includes prioritized and paused-waiting)",
    labelNames: ['session', 'state'] as const,
    registers: [metricsRegistry],
  }),
  queuePaused: new Gauge({
    name: 'wa_session_queue_paused',
    help: "1 while the session's queue is paused (the session is not ready), else 0",
    labelNames: ['session'] as const,
    registers: [metricsRegistry],
  }),
  browserMemory: new Gauge({
    name: 'wa_session_browser_memory_bytes',
    help: "Resident memory of the session's browser (process tree) at its last health probe",
    labelNames: ['session'] as const,
    registers: [metricsRegistry],
  }),
  owned: new Gauge({
    name: 'wa_worker_sessions',
    help: 'Sessions this worker owns',
    registers: [metricsRegistry],
  }),
  memoryLimit: new Gauge({
    name: 'wa_browser_memory_limit_bytes',
    help: 'BROWSER_MEMORY_LIMIT_MB of this worker, in bytes (0: no limit): a browser above it is recycled',
    registers: [metricsRegistry],
  }),
};
