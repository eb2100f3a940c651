import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { EventPublisher, RedisKeys } from '@app/core';
import {
  DEFAULT_SEND_JOB_POLICY,
  MessageQueueService,
  MessageStore,
  OutboundQueues,
} from '@app/queue';
import { loadWorkerConfig, WORKER_CONFIG, type WorkerConfig } from './config/worker.config';
import { REDIS, redisProviders } from './redis/redis.providers';
import { createLogger, LOGGER } from './logger';
import { SendService } from './outbound/send.service';
import { NumberChecker } from './outbound/number-check';
import { SessionOwnershipService } from './sessions/session-ownership.service';
import { ControlListener } from './control/control.listener';
import { ExpirySweeperService } from './expiry/expiry-sweeper.service';
import { RedisLifecycle } from './redis/redis.lifecycle';
import { RecordSettler } from './consistency/record-settler';
import { ConsistencyCheckService } from './consistency/consistency-check.service';

@Module({
  providers: [
    { provide: WORKER_CONFIG, useFactory: () => loadWorkerConfig() },
    {
      provide: LOGGER,
      inject: [WORKER_CONFIG],
      useFactory: (c: WorkerConfig) => createLogger(c.logLevel, c.workerId),
    },
    ...redisProviders,
    {
      provide: NumberChecker,
      inject: [REDIS, RedisKeys],
      useFactory: (r: Redis, k: RedisKeys) => new NumberChecker(r, k),
    },
    {
      provide: SendService,
      inject: [REDIS, RedisKeys, MessageStore, NumberChecker, WORKER_CONFIG, LOGGER],
      useFactory: (
        r: Redis,
        k: RedisKeys,
        m: MessageStore,
        n: NumberChecker,
        c: WorkerConfig,
        l: Logger,
      ) =>
        new SendService(
          r,
          k,
          m,
          n,
          {
            sendTimeoutMs: c.sendTimeoutMs,
            maxAttempts: c.messageMaxAttempts,
            retentionSeconds: c.messageRetentionDays * 86400,
            workerId: c.workerId,
          },
          l,
        ),
    },
    {
      provide: MessageQueueService,
      inject: [OutboundQueues, MessageStore, WORKER_CONFIG],
      useFactory: (q: OutboundQueues, m: MessageStore, c: WorkerConfig) =>
        new MessageQueueService(q, m, {
          ...DEFAULT_SEND_JOB_POLICY,
          maxAttempts: c.messageMaxAttempts,
        }),
    },
    {
      provide: EventPublisher,
      inject: [REDIS, RedisKeys],
      useFactory: (r: Redis, k: RedisKeys) => new EventPublisher(r, k),
    },
    {
      provide: RecordSettler,
      inject: [REDIS, RedisKeys, MessageStore, LOGGER, SendService],
      useFactory: (r: Redis, k: RedisKeys, m: MessageStore, l: Logger, send: SendService) =>
        new RecordSettler(r, k, m, l, send.acks),
    },
    SessionOwnershipService,
    ConsistencyCheckService,
    ControlListener,
    ExpirySweeperService,
    RedisLifecycle,
  ],
})
export class SenderWorkerModule {}
