import { Global, Module, type DynamicModule, type InjectionToken } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
// The stores and the producer belong to the libs above this one; only this file reaches up to
// them, and only inside forRoot (at call time), so the libs can import @app/core at load time.
import {
  DEFAULT_SEND_JOB_POLICY,
  MessageQueueService,
  MessageStore,
  OutboundQueues,
} from '@app/queue';
import { SessionStore } from '@app/session';
import { redisTarget, type SharedConfig } from '../config/env';
import { EventLog } from '../events/event-log';
import { createRedis, type ConnectionRole } from '../redis/redis-connection';
import { RedisKeys } from '../redis/redis-keys';
import { RedisLifecycle } from '../redis/redis-lifecycle';
import { BULLMQ_CONNECTION, LOGGER, REDIS } from './tokens';

export interface CoreModuleOptions<C extends SharedConfig> {
  /** The app's typed config, read and validated once in main.ts before anything connects. */
  config: C;
  /** The token the app injects its config by (GATEWAY_CONFIG, WORKER_CONFIG). */
  configToken: InjectionToken;
  /** The app's root logger, provided as LOGGER. */
  logger: Logger;
  /**
   * How the command connection behaves while Redis is down: `producer` fails a command at once
   * (the gateway answers 503, never 202 for what it did not store), `worker` waits it out.
   */
  role: ConnectionRole;
  /** CLIENT SETNAME of the connection, to tell processes apart in `CLIENT LIST`. */
  connectionName: string;
}

/**
 * Shared infrastructure, wired once for both apps and the integration tests: the typed config,
 * the logger, the Redis command connection, key names, the session registry and leases
 * (`SessionStore`), message records (`MessageStore`), the per-session queues (`OutboundQueues`),
 * the producer (`MessageQueueService`) and the event publisher. Global, so feature modules
 * inject these without importing it; its connections close after every other module stopped.
 *
 * It also roots `@nestjs/bullmq` (`BullModule.forRootAsync`): the fixed queues a feature module
 * registers with `BullModule.registerQueue` and the `@Processor` classes that consume them ride
 * on one BullMQ connection (`BULLMQ_CONNECTION`) under `QUEUE_PREFIX`. The per-session queues
 * are made at run time and stay plain bullmq objects (`OutboundQueues`, `SessionRuntime`).
 *
 * No forRootAsync: the config is read before the module exists (main.ts) so a bad value stops
 * the process with exit code 78 before any connection is made, and a generated API key is the
 * same for every part of the gateway.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot<C extends SharedConfig>(options: CoreModuleOptions<C>): DynamicModule {
    const { config } = options;
    return {
      module: CoreModule,
      imports: [
        // Global like this module; the factory gets BULLMQ_CONNECTION from this module's exports.
        BullModule.forRootAsync({
          inject: [BULLMQ_CONNECTION],
          useFactory: (connection: Redis) => ({ connection, prefix: config.queuePrefix }),
        }),
      ],
      providers: [
        { provide: options.configToken, useValue: config },
        { provide: LOGGER, useValue: options.logger },
        {
          provide: REDIS,
          useFactory: () => {
            const redis = createRedis(redisTarget(config), options.role, options.connectionName);
            // A producer's errors answer requests (503, /readyz), they are not crashes to log.
            if (options.role === 'producer') redis.on('error', () => undefined);
            return redis;
          },
        },
        {
          // BullMQ's Workers need a connection that waits Redis outages out
          // (`maxRetriesPerRequest: null`; they refuse anything else), so not REDIS, which fails
          // fast in the gateway. Lazy: an app that registers no fixed queue (the gateway today)
          // opens no socket for it. A Cluster client is a valid BullMQ connection too (queue
          // names carry a `{hash tag}`).
          provide: BULLMQ_CONNECTION,
          useFactory: () => {
            const name = `${options.connectionName}:bullmq`;
            const redis = createRedis(redisTarget(config), 'worker', name, { lazy: true });
            // Errors surface on the BullMQ objects using it (their 'error' events).
            redis.on('error', () => undefined);
            return redis;
          },
        },
        { provide: RedisKeys, useValue: new RedisKeys(config.queuePrefix) },
        {
          provide: SessionStore,
          inject: [REDIS, RedisKeys, EventLog],
          useFactory: (redis: Redis, keys: RedisKeys, events: EventLog) =>
            new SessionStore(redis, keys, events),
        },
        {
          provide: MessageStore,
          inject: [REDIS, RedisKeys, EventLog],
          useFactory: (redis: Redis, keys: RedisKeys, events: EventLog) =>
            new MessageStore(redis, keys, config.messageRetentionDays * 86400, events),
        },
        {
          provide: OutboundQueues,
          inject: [REDIS],
          useFactory: (redis: Redis) => new OutboundQueues(redis, config.queuePrefix),
        },
        {
          provide: MessageQueueService,
          inject: [OutboundQueues, MessageStore],
          useFactory: (queues: OutboundQueues, messages: MessageStore) =>
            new MessageQueueService(queues, messages, {
              ...DEFAULT_SEND_JOB_POLICY,
              maxAttempts: config.messageMaxAttempts,
            }),
        },
        {
          provide: EventLog,
          inject: [REDIS, RedisKeys],
          useFactory: (redis: Redis, keys: RedisKeys) => new EventLog(redis, keys),
        },
        {
          provide: RedisLifecycle,
          inject: [REDIS, BULLMQ_CONNECTION, OutboundQueues],
          useFactory: (redis: Redis, bullmq: Redis, queues: OutboundQueues) =>
            new RedisLifecycle([redis, bullmq], [queues]),
        },
      ],
      exports: [
        options.configToken,
        LOGGER,
        REDIS,
        BULLMQ_CONNECTION,
        RedisKeys,
        SessionStore,
        MessageStore,
        OutboundQueues,
        MessageQueueService,
        EventLog,
      ],
    };
  }
}
