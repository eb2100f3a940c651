import { Module } from '@nestjs/common';
import { GatewayMetricsCollector } from './gateway-metrics.collector';
import { MetricsController } from './metrics.controller';

/** `GET /metrics`; the HTTP counters are a Fastify hook (`installHttpMetrics`, main.ts). */
@Module({
  controllers: [MetricsController],
  providers: [GatewayMetricsCollector],
})
export class MetricsModule {}
