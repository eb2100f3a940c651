import {
  Inject,
  Injectable,
  Module,
  type OnModuleInit,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LOGGER, metricsRegistry, REDIS, startProcessMetrics } from '@app/core';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { OwnershipModule } from '../ownership/ownership.module';
import { SessionOwnershipService } from '../ownership/session-ownership.service';
import { MetricsServer } from './metrics-server';
import { redisAnswers } from './redis-readiness';
import { WorkerMetricsCollector } from './worker-metrics.collector';

/**
 * Serves the worker's metrics and its probes (`/healthz`, `/readyz`) on
 * WORKER_METRICS_HOST:WORKER_METRICS_PORT (0 = off, and then no probes either).
 */
@Injectable()
export class WorkerMetricsService implements OnModuleInit, OnModuleDestroy {
  private server: MetricsServer | null = null;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly ownership: SessionOwnershipService,
  ) {}

  /**
   * At module init, not at application bootstrap: other modules' bootstrap hooks (the maintenance
   * scheduler, the webhook router's consumer group) wait for Redis, and a worker started while
   * Redis is down must still answer its probes (/healthz 200, /readyz 503) or Kubernetes would
   * restart it for an outage it is built to wait out.
   */
  async onModuleInit(): Promise<void> {
    const { metricsPort: port, metricsHost: host, metricsApiKey: apiKey } = this.config;
    if (port === 0) return;
    startProcessMetrics();
    const collector = new WorkerMetricsCollector(
      () => this.ownership.owned(),
      this.redis,
      this.config.browserMemoryLimitMb,
    );
    const server = new MetricsServer(metricsRegistry, {
      host,
      port,
      apiKey,
      refresh: () => collector.refresh(),
      ready: () => redisAnswers(this.redis),
    });
    try {
      await server.listen();
      this.server = server;
      this.logger.info({ host, port }, 'metrics served on /metrics (probes on /healthz, /readyz)');
    } catch (err) {
      // Sending does not depend on metrics: keep running; Prometheus sees the target down.
      this.logger.error(
        { err, host, port },
        'metrics server could not listen (WORKER_METRICS_PORT)',
      );
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.server?.close();
  }
}

@Module({
  imports: [OwnershipModule],
  providers: [WorkerMetricsService],
})
export class WorkerMetricsModule {}
