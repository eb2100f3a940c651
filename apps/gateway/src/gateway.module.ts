import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CoreModule, LOGGER, REDIS, RedisKeys } from '@app/core';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/gateway.config';
import { createGatewayLogging } from './common/logger';
import { ApiKeyGuard } from './common/api-key.guard';
import { ApiKeyThrottlerGuard, PrefixedThrottlerStorage } from './common/throttling';
import { ErrorFilter } from './common/error.filter';
import { MessagesModule } from './messages/messages.module';
import { SessionsModule } from './sessions/sessions.module';
import { OperationsModule } from './operations/operations.module';
import { HealthModule } from './health/health.module';
import { AdminModule } from './admin/admin.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { IncomingModule } from './incoming/incoming.module';
import { EventsModule } from './events/events.module';
import { WebhooksModule } from './webhooks/webhooks.module';
import { MetricsModule } from './metrics/metrics.module';

@Module({})
export class GatewayModule {
  /** The config is read once, in main.ts, so a generated API key is the same everywhere. */
  static forRoot(config: GatewayConfig): DynamicModule {
    const { logger, params: httpLogging } = createGatewayLogging(config.logLevel);
    return {
      module: GatewayModule,
      imports: [
        // The producer connection fails fast: a request is answered 503 at once while Redis
        // is down, never 202 for something not stored.
        CoreModule.forRoot({
          config,
          configToken: GATEWAY_CONFIG,
          logger,
          role: 'producer',
          connectionName: 'gateway',
        }),
        // Every line of a request carries its id (common/logger.ts, common/request-id.ts).
        LoggerModule.forRoot(httpLogging),
        ThrottlerModule.forRootAsync({
          inject: [REDIS, RedisKeys],
          useFactory: (redis: Redis, keys: RedisKeys) => ({
            // Named 'default' so the headers are plain Retry-After / X-RateLimit-*.
            throttlers: [{ name: 'default', ttl: 60000, limit: config.requestsPerMinute }],
            storage: new PrefixedThrottlerStorage(
              redis,
              keys.throttler(),
              Date.now,
              config.workers,
            ),
          }),
        }),
        MessagesModule,
        SessionsModule,
        OperationsModule,
        HealthModule,
        IncomingModule,
        EventsModule,
        WebhooksModule,
        MetricsModule,
        AdminModule.forRoot(config),
        DashboardModule,
      ],
      providers: [
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_GUARD, useClass: ApiKeyThrottlerGuard },
        {
          provide: APP_FILTER,
          inject: [LOGGER],
          useFactory: (l: Logger) => new ErrorFilter(l),
        },
      ],
    };
  }
}
