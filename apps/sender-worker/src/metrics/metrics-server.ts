import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { scrapeAllowed } from '@app/core';

const ROUTES = new Set(['/metrics', '/healthz', '/readyz']);

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** METRICS_API_KEY: when set, a scrape must present it (bearer, basic password, X-Api-Key). */
  apiKey?: string;
  /** Called before each render: the scrape-time gauges. */
  refresh(): Promise<void>;
  /** `GET /readyz`: whether this worker can work now (its Redis answers). */
  ready(): Promise<boolean>;
}

/**
 * The worker's `GET /metrics`, `GET /healthz` and `GET /readyz`: a bare node:http server (the
 * worker has no HTTP framework and needs none for three read-only routes). Anything else is 404;
 * a method other than GET or HEAD 405; a scrape with a missing or wrong key 401.
 *
 * The probes need no key, like the gateway's: a kubelet cannot present one, and they reveal
 * nothing. `/healthz` (liveness) answers from the event loop alone, never from Redis: a Redis
 * outage must not make an orchestrator restart every worker (their sessions would all move
 * for nothing). `/readyz` (readiness) is 503 while Redis does not answer.
 */
export class MetricsServer {
  private server: Server | null = null;

  constructor(
    private readonly registry: Registry,
    private readonly opts: MetricsServerOptions,
  ) {}

  /** Resolves with the port it listens on (useful with port 0 in tests of this class). */
  async listen(): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      const reply = (status: number, code: string, message: string) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code, message } }));
      };
      if (!ROUTES.has(path))
        return reply(404, 'NOT_FOUND', 'Only GET /metrics, /healthz and /readyz are served here');
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return reply(405, 'METHOD_NOT_ALLOWED', `Use GET ${path}`);
      const ok = (body: object) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
      };
      if (path === '/healthz') return ok({ status: 'ok' });
      if (path === '/readyz') {
        this.opts
          .ready()
          .catch(() => false)
          .then((up) =>
            up
              ? ok({ status: 'ok', redis: 'up' })
              : reply(503, 'SERVICE_UNAVAILABLE', 'Redis does not answer'),
          )
          .catch(() => undefined);
        return;
      }
      if (!scrapeAllowed(req.headers, this.opts.apiKey)) {
        res.setHeader('www-authenticate', 'Bearer realm="metrics"');
        return reply(401, 'UNAUTHORIZED', 'Missing or wrong METRICS_API_KEY');
      }
      this.opts
        .refresh()
        .then(() => this.registry.metrics())
        .then((text) => {
          res.writeHead(200, { 'content-type': this.registry.contentType });
          res.end(req.method === 'HEAD' ? undefined : text);
        })
        .catch(() => reply(500, 'INTERNAL_ERROR', 'Metrics could not be collected'));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
