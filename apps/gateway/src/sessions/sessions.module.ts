import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys } from '@app/core';
import { SimulatorOutboxReader } from '@app/session';
import { ControlModule } from '../control/control.module';
import { SessionsController } from './sessions.controller';
import { SessionsService } from './sessions.service';

/** `/api/sessions`: the registry, QR, pairing, contacts, recover and delete. */
@Module({
  imports: [ControlModule],
  controllers: [SessionsController],
  providers: [
    SessionsService,
    {
      provide: SimulatorOutboxReader,
      inject: [REDIS, RedisKeys],
      useFactory: (redis: Redis, keys: RedisKeys) => new SimulatorOutboxReader(redis, keys),
    },
  ],
  exports: [SessionsService],
})
export class SessionsModule {}
