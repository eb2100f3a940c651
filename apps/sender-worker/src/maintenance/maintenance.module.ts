import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { MAINTENANCE_QUEUE } from '@app/queue';
import { ExpiryModule } from '../expiry/expiry.module';
import { MaintenanceProcessor } from './maintenance.processor';
import { MaintenanceSchedulerService } from './maintenance-scheduler.service';
import { EventStreamTrimmer } from './event-stream-trimmer';

/**
 * The fleet's periodic work, on a fixed BullMQ queue (connection and prefix from the core
 * module's `BullModule.forRootAsync`): job schedulers registered at bootstrap, consumed by
 * `MaintenanceProcessor`. Only the worker imports it, so the gateway runs no maintenance Worker.
 */
@Module({
  imports: [BullModule.registerQueue({ name: MAINTENANCE_QUEUE }), ExpiryModule],
  providers: [MaintenanceProcessor, MaintenanceSchedulerService, EventStreamTrimmer],
})
export class MaintenanceModule {}
