import { Counter, Histogram } from 'prom-client';
import { metricsRegistry } from '@app/core';
import type { WebhookJob } from '@app/queue';

type EndpointKind = WebhookJob['endpoint']['kind'];

const deliveries = new Counter({
  name: 'wa_webhook_deliveries_total',
  help: 'Webhook delivery attempts by endpoint kind (session, global) and outcome (delivered, failed_attempt: will retry, dead_lettered)',
  labelNames: ['endpoint', 'outcome'] as const,
  registers: [metricsRegistry],
});

const deliveryLatency = new Histogram({
  name: 'wa_webhook_delivery_seconds',
  help: "From the event's timestamp to the endpoint's 2xx (retries included), by endpoint kind",
  labelNames: ['endpoint'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 86400],
  registers: [metricsRegistry],
});

/** Counted by the worker whose run made the attempt (one run per attempt: once per fleet). */
export const webhookMetrics = {
  delivered(endpoint: EndpointKind, eventTimestamp: string): void {
    deliveries.inc({ endpoint, outcome: 'delivered' });
    const since = Date.parse(eventTimestamp);
    if (!Number.isNaN(since))
      deliveryLatency.observe({ endpoint }, Math.max(0, Date.now() - since) / 1000);
  },
  failedAttempt(endpoint: EndpointKind): void {
    deliveries.inc({ endpoint, outcome: 'failed_attempt' });
  },
  deadLettered(endpoint: EndpointKind): void {
    deliveries.inc({ endpoint, outcome: 'dead_lettered' });
  },
};
