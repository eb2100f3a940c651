import { Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys } from '@app/core';
import { SimulatorOutbox } from '@app/session';
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
      provide: SimulatorOutbox,
      inject: [REDIS, RedisKeys],
      useFactory: (redis: Redis, keys: RedisKeys) => new SimulatorOutbox(redis, keys),
    },
  ],
  exports: [SessionsService],
})
export class SessionsModule {}
