import { Gauge } from 'prom-client';
import { metricsRegistry } from '@app/core';

/**
 * Figures of the whole fleet, read from Redis at scrape time by the gateway. Every gateway
 * replica reports the same value: aggregate them with `max`, never `sum`. (Per-session queue
 * depths are the workers', each for the sessions it owns: those do sum.)
 */
export const fleetGauges = {
  queueJobs: new Gauge({
    name: 'wa_queue_jobs',
    help: 'Jobs in the fleet-wide BullMQ queues ({_webhooks}, {_maintenance}) by state; same value on every gateway replica',
    labelNames: ['queue', 'state'] as const,
    registers: [metricsRegistry],
  }),
  deadLetters: new Gauge({
    name: 'wa_webhook_dead_letters',
    help: 'Webhook dead letters kept (replayable); same value on every gateway replica',
    registers: [metricsRegistry],
  }),
  sessions: new Gauge({
    name: 'wa_sessions',
    help: 'Sessions in the registry; same value on every gateway replica',
    registers: [metricsRegistry],
  }),
  unowned: new Gauge({
    name: 'wa_sessions_unowned',
    help: 'Sessions no live worker owns (nobody runs them: no status, no queue figures from any worker)',
    registers: [metricsRegistry],
  }),
};
