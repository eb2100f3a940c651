import { BullModule, Processor } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys } from '@app/core';
import {
  WEBHOOK_DEAD_LETTER_RETENTION_SECONDS,
  WEBHOOKS_QUEUE,
  WebhookDeadLetterStore,
} from '@app/queue';
import type { WorkerConfig } from '../config/worker.config';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookEndpoints } from './webhook-endpoints';
import { WebhookRouterService } from './webhook-router.service';
import { webhookWorkerOptions, WebhookProcessor } from './webhook.processor';

/**
 * Webhooks, worker side: the router (event stream -> one delivery job per endpoint) and the
 * delivery Worker on the fixed webhooks queue (connection and prefix from the core module's
 * `BullModule.forRootAsync`). In the worker app, not a process of its own: every worker routes
 * and delivers, so deliveries scale and fail over with the workers, and there is no extra
 * process to run, watch and scale.
 */
@Module({})
export class WebhooksModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    // The Worker's options depend on the configuration: the decorator is applied again with them.
    Processor(WEBHOOKS_QUEUE, webhookWorkerOptions(config.webhooks))(WebhookProcessor);
    return {
      module: WebhooksModule,
      imports: [BullModule.registerQueue({ name: WEBHOOKS_QUEUE })],
      providers: [
        WebhookEndpoints,
        {
          provide: WebhookDeadLetterStore,
          inject: [REDIS, RedisKeys],
          useFactory: (redis: Redis, keys: RedisKeys) =>
            new WebhookDeadLetterStore(redis, keys, WEBHOOK_DEAD_LETTER_RETENTION_SECONDS),
        },
        WebhookDeliveryService,
        WebhookRouterService,
        WebhookProcessor,
      ],
    };
  }
}
