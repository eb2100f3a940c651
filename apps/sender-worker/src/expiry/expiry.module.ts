import { Module } from '@nestjs/common';
import { ExpirySweeperService } from './expiry-sweeper.service';

/** Marks `expired` the queued messages whose `expiresAt` passed, paused queues included. */
@Module({ providers: [ExpirySweeperService] })
export class ExpiryModule {}
