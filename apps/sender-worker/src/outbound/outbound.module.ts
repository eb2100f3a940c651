import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LOGGER, REDIS, RedisKeys } from '@app/core';
import { MessageStore } from '@app/queue';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { RecordSettler } from '../consistency/record-settler';
import { NumberChecker } from './number-check';
import { SendService } from './send.service';

/**
 * The send path: the service a session's BullMQ consumer calls for each job, the cached number
 * check, and the settler that ends a record whose job ended outside it.
 */
@Module({
  providers: [
    {
      provide: NumberChecker,
      inject: [REDIS, RedisKeys],
      useFactory: (redis: Redis, keys: RedisKeys) => new NumberChecker(redis, keys),
    },
    {
      provide: SendService,
      inject: [WORKER_CONFIG, REDIS, RedisKeys, MessageStore, NumberChecker, LOGGER],
      useFactory: (
        config: WorkerConfig,
        redis: Redis,
        keys: RedisKeys,
        messages: MessageStore,
        numbers: NumberChecker,
        logger: Logger,
      ) =>
        new SendService(
          redis,
          keys,
          messages,
          numbers,
          {
            sendTimeoutMs: config.sendTimeoutMs,
            maxAttempts: config.messageMaxAttempts,
            retentionSeconds: config.messageRetentionDays * 86400,
            workerId: config.workerId,
          },
          logger,
        ),
    },
    {
      provide: RecordSettler,
      inject: [REDIS, RedisKeys, MessageStore, LOGGER, SendService],
      useFactory: (
        redis: Redis,
        keys: RedisKeys,
        messages: MessageStore,
        logger: Logger,
        send: SendService,
      ) => new RecordSettler(redis, keys, messages, logger, send.acks),
    },
  ],
  exports: [NumberChecker, SendService, RecordSettler],
})
export class OutboundModule {}
