import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Histogram } from 'prom-client';
import { metricsRegistry } from '@app/core';

const requests = new Counter({
  name: 'wa_http_requests_total',
  help: 'HTTP requests answered by the gateway, by method, matched route pattern (unmatched: no route) and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [metricsRegistry],
});

const duration = new Histogram({
  name: 'wa_http_request_duration_seconds',
  help: 'Time to answer an HTTP request, by method and matched route pattern (a live event stream counts until it closes)',
  labelNames: ['method', 'route'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60],
  registers: [metricsRegistry],
});

/** Methods as labels: the usual ones, anything else OTHER (a method is client-chosen text). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Counts every answer by the route Fastify matched (`/api/sessions/:id`, never the raw URL: ids,
 * phone numbers and query strings stay out of the labels), after it is sent. Installed before
 * Nest registers its routes, so the hook covers them all, Bull Board's included.
 */
export function installHttpMetrics(fastify: FastifyInstance): void {
  fastify.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const method = METHODS.has(req.method) ? req.method : 'OTHER';
    const route = req.routeOptions?.url ?? 'unmatched';
    requests.inc({ method, route, status: String(reply.statusCode) });
    duration.observe({ method, route }, reply.elapsedTime / 1000);
    done();
  });
}
