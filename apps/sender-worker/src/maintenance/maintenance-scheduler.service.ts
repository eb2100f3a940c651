import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { LOGGER } from '@app/core';
import { MAINTENANCE_QUEUE, MaintenanceJobName } from '@app/queue';
import { MAINTENANCE_JOB_OPTIONS, MAINTENANCE_SCHEDULES } from './maintenance.schedules';

/**
 * Registers the maintenance queue's job schedulers at bootstrap. Every worker does, and an
 * upsert under the same id is idempotent: one scheduler per job in Redis, however many workers
 * start (or restart). The schedulers live in Redis: a Redis outage pauses them and they resume
 * with it; a Redis that lost its data (no AOF) gets them back when a worker starts.
 */
@Injectable()
export class MaintenanceSchedulerService implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    // Errors surface on the calls; without a listener BullMQ would print each one.
    this.queue.on('error', (err) => this.logger.debug({ err }, 'maintenance queue error'));
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const name of Object.values(MaintenanceJobName)) {
      await this.queue.upsertJobScheduler(name, MAINTENANCE_SCHEDULES[name], {
        name,
        opts: MAINTENANCE_JOB_OPTIONS,
      });
    }
  }
}
