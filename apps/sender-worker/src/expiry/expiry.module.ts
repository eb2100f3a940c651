import { Module } from '@nestjs/common';
import { ExpirySweeperService } from './expiry-sweeper.service';

/**
 * Marks `expired` the queued messages whose `expiresAt` passed, paused queues included. The
 * maintenance queue decides when (`maintenance/`); this module holds what a sweep does.
 */
@Module({ providers: [ExpirySweeperService], exports: [ExpirySweeperService] })
export class ExpiryModule {}
