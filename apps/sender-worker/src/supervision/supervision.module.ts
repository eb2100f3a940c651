import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { EventLog, LOGGER, REDIS, RedisKeys } from '@app/core';
import { MessageStore, OutboundQueues } from '@app/queue';
import { SessionStore } from '@app/session';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { RecordSettler } from '../consistency/record-settler';
import { OutboundModule } from '../outbound/outbound.module';
import { MessageStatusService } from '../outbound/message-status.service';
import { SendProcessor } from '../outbound/send.processor';
import type { RuntimeDeps } from './session-runtime';

/** What every session's runtime (its supervisor and BullMQ consumer) is built from. */
export const RUNTIME_DEPS = Symbol('RUNTIME_DEPS');

/**
 * Supervision: a `SessionRuntime` per owned session (state machine, recovery, the consumer) is
 * made at run time by the ownership service, from these dependencies; a test builds one from
 * the same module (with `overrideProvider` where it needs another part).
 */
@Module({
  imports: [OutboundModule],
  providers: [
    {
      provide: RUNTIME_DEPS,
      inject: [
        WORKER_CONFIG,
        REDIS,
        RedisKeys,
        SessionStore,
        MessageStore,
        OutboundQueues,
        SendProcessor,
        MessageStatusService,
        EventLog,
        LOGGER,
        RecordSettler,
      ],
      useFactory: (
        config: WorkerConfig,
        redis: Redis,
        keys: RedisKeys,
        sessions: SessionStore,
        messages: MessageStore,
        queues: OutboundQueues,
        sendProcessor: SendProcessor,
        messageStatus: MessageStatusService,
        events: EventLog,
        logger: Logger,
        settler: RecordSettler,
      ): RuntimeDeps => ({
        config,
        redis,
        keys,
        sessions,
        messages,
        queues,
        sendProcessor,
        messageStatus,
        events,
        logger,
        settler,
      }),
    },
  ],
  exports: [RUNTIME_DEPS],
})
export class SupervisionModule {}
