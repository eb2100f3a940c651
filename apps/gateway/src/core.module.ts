import { Global, Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { safeErrSerializer } from '@app/core';
import { GATEWAY_CONFIG, type GatewayConfig } from './config/gateway.config';
import { createGatewayLogger, GATEWAY_LOGGER } from './common/logger';
import { REDIS, redisProviders } from './redis/redis.providers';
import { MessageQueueService, MessageStore, OutboundQueues, RedisKeys } from '@app/queue';
import { SessionStore, SimulatorOutboxReader } from '@app/session';

/** Configuration, logging and Redis: what every other part of the gateway is built on. */
@Global()
@Module({})
export class CoreModule {
  /** The config is read once, in main.ts, so a generated API key is the same everywhere. */
  static forRoot(config: GatewayConfig): DynamicModule {
    const logger = createGatewayLogger(config.logLevel);
    return {
      module: CoreModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            logger,
            // pino-http wraps its own serializers around the standard ones, which copy every
            // property of an error (ioredis's failed command included): keep ours.
            serializers: { err: safeErrSerializer },
            // Successful requests at debug: the send path logs what matters about each message.
            customLogLevel: (_req, res, err) =>
              err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'debug',
          },
        }),
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: GATEWAY_LOGGER, useValue: logger },
        ...redisProviders,
      ],
      exports: [
        GATEWAY_CONFIG,
        GATEWAY_LOGGER,
        REDIS,
        RedisKeys,
        SessionStore,
        MessageStore,
        OutboundQueues,
        MessageQueueService,
        SimulatorOutboxReader,
      ],
    };
  }
}
