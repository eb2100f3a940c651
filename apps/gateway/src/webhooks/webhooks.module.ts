import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys } from '@app/core';
import { WEBHOOKS_QUEUE, WebhookDeadLetterStore } from '@app/queue';
import { DeadLettersController } from './dead-letters.controller';
import { DeadLettersService } from './dead-letters.service';
import { SessionWebhookController } from './session-webhook.controller';
import { WebhookEndpoints } from './webhook-endpoints.service';

/**
 * The gateway only reads dead letters and removes replayed ones (the worker writes them), so
 * the retention it passes bounds nothing but how long a replay count is kept at least.
 */
const REPLAY_COUNT_RETENTION_SECONDS = 30 * 86400;

/** The gateway's webhook surface: session endpoints, dead letters and their replay. */
@Module({
  imports: [
    // On the gateway's fail-fast connection (REDIS), not the core module's BullMQ one, which
    // waits Redis outages out: a replay while Redis is down answers 503 at once, never hangs.
    // Prefix from the core module's BullModule.forRootAsync.
    BullModule.registerQueueAsync({
      name: WEBHOOKS_QUEUE,
      inject: [REDIS],
      useFactory: (redis: Redis) => ({ connection: redis }),
    }),
  ],
  controllers: [SessionWebhookController, DeadLettersController],
  providers: [
    WebhookEndpoints,
    DeadLettersService,
    {
      provide: WebhookDeadLetterStore,
      inject: [REDIS, RedisKeys],
      useFactory: (redis: Redis, keys: RedisKeys) =>
        new WebhookDeadLetterStore(redis, keys, REPLAY_COUNT_RETENTION_SECONDS),
    },
  ],
})
export class WebhooksModule {}
