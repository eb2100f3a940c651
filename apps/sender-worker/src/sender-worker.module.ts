import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  EventPublisher,
  DEFAULT_SEND_JOB_POLICY,
  MessageQueueService,
  MessageStore,
  OutboundQueues,
  RedisKeys,
} from '@app/queue';
import { loadWorkerConfig, WORKER_CONFIG, type WorkerConfig } from './config/worker.config';
import { REDIS, redisProviders } from './redis/redis.providers';
import { createLogger, LOGGER } from './logger';
import { MessageStatusService } from './outbound/message-status.service';
import { SendProcessor } from './outbound/send.processor';
import { SendProtocol } from './outbound/send-protocol';
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
      provide: MessageStatusService,
      inject: [REDIS, RedisKeys, MessageStore, EventPublisher, WORKER_CONFIG],
      useFactory: (r: Redis, k: RedisKeys, m: MessageStore, e: EventPublisher, c: WorkerConfig) =>
        new MessageStatusService(r, k, m, e, c.messageRetentionDays * 86400),
    },
    {
      provide: SendProcessor,
      inject: [MessageStatusService, NumberChecker, WORKER_CONFIG, LOGGER],
      useFactory: (status: MessageStatusService, n: NumberChecker, c: WorkerConfig, l: Logger) =>
        new SendProcessor(
          new SendProtocol(
            status,
            status,
            n,
            {
              sendTimeoutMs: c.sendTimeoutMs,
              maxAttempts: c.messageMaxAttempts,
              workerId: c.workerId,
            },
            l,
          ),
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
      inject: [REDIS, RedisKeys, MessageStore, LOGGER, MessageStatusService],
      useFactory: (r: Redis, k: RedisKeys, m: MessageStore, l: Logger, s: MessageStatusService) =>
        new RecordSettler(r, k, m, l, s),
    },
    SessionOwnershipService,
    ConsistencyCheckService,
    ControlListener,
    ExpirySweeperService,
    RedisLifecycle,
  ],
})
export class SenderWorkerModule {}
