import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LOGGER, REDIS, RedisKeys } from '@app/core';
import { MessageStore } from '@app/queue';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { RecordSettler } from '../consistency/record-settler';
import { MessageStatusService } from './message-status.service';
import { NumberChecker } from './number-check';
import { SendProcessor } from './send.processor';
import { SendProtocol } from './send-protocol';

/**
 * The send path: the protocol and the processor a session's BullMQ consumer calls for each job,
 * the one service through which a message's status changes (and is published), the cached
 * number check, and the settler that ends a record whose job ended outside the send path.
 */
@Module({
  providers: [
    {
      provide: NumberChecker,
      inject: [REDIS, RedisKeys],
      useFactory: (redis: Redis, keys: RedisKeys) => new NumberChecker(redis, keys),
    },
    {
      provide: MessageStatusService,
      inject: [REDIS, RedisKeys, MessageStore, WORKER_CONFIG],
      useFactory: (redis: Redis, keys: RedisKeys, messages: MessageStore, config: WorkerConfig) =>
        new MessageStatusService(redis, keys, messages, config.messageRetentionDays * 86400),
    },
    {
      provide: SendProtocol,
      inject: [MessageStatusService, NumberChecker, WORKER_CONFIG, LOGGER],
      useFactory: (
        status: MessageStatusService,
        numbers: NumberChecker,
        config: WorkerConfig,
        logger: Logger,
      ) =>
        new SendProtocol(
          status,
          status,
          numbers,
          {
            sendTimeoutMs: config.sendTimeoutMs,
            maxAttempts: config.messageMaxAttempts,
            workerId: config.workerId,
          },
          logger,
        ),
    },
    {
      provide: SendProcessor,
      inject: [SendProtocol, LOGGER],
      useFactory: (protocol: SendProtocol, logger: Logger) => new SendProcessor(protocol, logger),
    },
    {
      provide: RecordSettler,
      inject: [REDIS, RedisKeys, MessageStore, LOGGER, MessageStatusService],
      useFactory: (
        redis: Redis,
        keys: RedisKeys,
        messages: MessageStore,
        logger: Logger,
        status: MessageStatusService,
      ) => new RecordSettler(redis, keys, messages, logger, status),
    },
  ],
  exports: [NumberChecker, MessageStatusService, SendProtocol, SendProcessor, RecordSettler],
})
export class OutboundModule {}
