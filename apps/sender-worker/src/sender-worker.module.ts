import { Module, type DynamicModule } from '@nestjs/common';
import { CoreModule } from '@app/core';
import { WORKER_CONFIG, type WorkerConfig } from './config/worker.config';
import { createLogger } from './logger';
import { OutboundModule } from './outbound/outbound.module';
import { SupervisionModule } from './supervision/supervision.module';
import { OwnershipModule } from './ownership/ownership.module';
import { ConsistencyModule } from './consistency/consistency.module';
import { ControlModule } from './control/control.module';
import { MaintenanceModule } from './maintenance/maintenance.module';
import { WebhooksModule } from './webhooks/webhooks.module';
import { WorkerMetricsModule } from './metrics/metrics.module';

/**
 * The sender worker: no HTTP. Nest stops a module after every module that imports it, and the
 * core module (global) last: the maintenance and webhook Workers and the webhook router stop
 * first (onModuleDestroy), then the control listener and the periodic checks, then the ownership service hands its sessions over,
 * then the Redis connections close.
 */
@Module({})
export class SenderWorkerModule {
  /** The config is read once, in main.ts, before anything connects. */
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: SenderWorkerModule,
      imports: [
        // Worker connections wait Redis outages out instead of failing.
        CoreModule.forRoot({
          config,
          configToken: WORKER_CONFIG,
          logger: createLogger(config.logLevel, config.workerId),
          role: 'worker',
          connectionName: `worker:${config.workerId}`,
        }),
        OutboundModule,
        SupervisionModule,
        OwnershipModule,
        ConsistencyModule,
        ControlModule,
        MaintenanceModule,
        WebhooksModule.forRoot(config),
        WorkerMetricsModule,
      ],
    };
  }
}
