import { Controller, Get, Header, Inject, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { metricsRegistry, scrapeAllowed } from '@app/core';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { ApiError } from '../common/api-error';
import { Public } from '../common/public.decorator';
import { ApiErrors } from '../openapi/api-errors.decorator';
import { GatewayMetricsCollector } from './gateway-metrics.collector';
import { clusterMetrics, inGatewayCluster } from '../cluster/gateway-cluster';
import { fleetGauges } from './fleet.metrics';

/**
 * Read from Redis by the process that serves the scrape: in a cluster (GATEWAY_WORKERS > 1)
 * these are rendered by that process alone, the rest is the sum over all processes.
 */
const FRESH_PER_SCRAPE = [...Object.values(fleetGauges).map((g) => metricName(g)), 'wa_redis_up'];

function metricName(metric: object): string {
  return (metric as { name: string }).name;
}

/**
 * `GET /metrics` for Prometheus. Public to the API key guard (scrapers hold no API key); when
 * METRICS_API_KEY is set, this handler asks for that key itself, as a bearer token, the
 * password of basic credentials or `X-Api-Key` (whichever the scrape config sends).
 */
@Public()
@ApiTags('Probes')
@Controller()
export class MetricsController {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly collector: GatewayMetricsCollector,
  ) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      "The gateway's metrics in Prometheus text format: HTTP requests by route and status, messages accepted, statuses changed here (cancelled, expired), fleet-wide queue and dead-letter gauges, Redis reachability, Node process metrics. Workers serve their own on WORKER_METRICS_PORT. No key needed unless METRICS_API_KEY is set; then send it as `Authorization: Bearer <key>`, as the password of basic credentials, or as `X-Api-Key`.",
  })
  // Only the 200 is text (@ApiProduces would declare the 401 as text as well).
  @ApiOkResponse({
    description: 'Prometheus text exposition format 0.0.4',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiErrors({
    status: 401,
    code: 'UNAUTHORIZED',
    message: 'Missing or wrong METRICS_API_KEY',
    description: 'METRICS_API_KEY is set and the scrape did not present it',
  })
  async metrics(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (!scrapeAllowed(req.headers, this.config.metricsApiKey)) {
      throw new ApiError(401, 'UNAUTHORIZED', 'Missing or wrong METRICS_API_KEY', {
        'WWW-Authenticate': 'Bearer realm="metrics"',
      });
    }
    await this.collector.refresh();
    const text = inGatewayCluster() ? await this.clusterText() : await metricsRegistry.metrics();
    // Set here, not with @Header: an error answer is JSON.
    void reply.header('Content-Type', metricsRegistry.contentType);
    return text;
  }

  private async clusterText(): Promise<string> {
    const [others, ...fresh] = await Promise.all([
      clusterMetrics(FRESH_PER_SCRAPE),
      ...FRESH_PER_SCRAPE.map((name) => metricsRegistry.getSingleMetricAsString(name)),
    ]);
    return `${others.trimEnd()}\n${fresh.filter(Boolean).join('\n')}\n`;
  }
}
