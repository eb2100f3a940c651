import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { TerminusModule } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { RedisKeys } from '@app/core';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/gateway.config';
import { REDIS } from './redis/redis.providers';
import { CoreModule } from './core.module';
import { ApiKeyGuard } from './common/api-key.guard';
import { ApiKeyThrottlerGuard, PrefixedThrottlerStorage } from './common/throttling';
import { ErrorFilter } from './common/error.filter';
import { GATEWAY_LOGGER } from './common/logger';
import { ControlClient } from './control/control.client';
import { SessionsController } from './sessions/sessions.controller';
import { SessionsService } from './sessions/sessions.service';
import { MessagesController } from './messages/messages.controller';
import { MessagesService } from './messages/messages.service';
import { IdempotencyService } from './messages/idempotency.service';
import { OperationsController } from './operations/operations.controller';
import { HealthController } from './health/health.controller';
import { HealthService } from './health/health.service';
import { WorkersService } from './operations/workers.service';
import { RedisLifecycle } from './redis/redis.lifecycle';
import type { Logger } from 'pino';

@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        CoreModule.forRoot(config),
        TerminusModule.forRoot({ logger: false }),
        ThrottlerModule.forRootAsync({
          inject: [GATEWAY_CONFIG, REDIS, RedisKeys],
          useFactory: (c: GatewayConfig, redis: Redis, keys: RedisKeys) => ({
            // Named 'default' so the headers are plain Retry-After / X-RateLimit-*.
            throttlers: [{ name: 'default', ttl: 60000, limit: c.requestsPerMinute }],
            storage: new PrefixedThrottlerStorage(redis, keys.throttler()),
          }),
        }),
      ],
      controllers: [SessionsController, MessagesController, OperationsController, HealthController],
      providers: [
        ControlClient,
        SessionsService,
        MessagesService,
        IdempotencyService,
        HealthService,
        WorkersService,
        RedisLifecycle,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_GUARD, useClass: ApiKeyThrottlerGuard },
        {
          provide: APP_FILTER,
          inject: [GATEWAY_LOGGER],
          useFactory: (logger: Logger) => new ErrorFilter(logger),
        },
      ],
    };
  }
}
