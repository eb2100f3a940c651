import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, type OnModuleDestroy } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { LOGGER } from '@app/core';
import { MAINTENANCE_QUEUE, MaintenanceJobName } from '@app/queue';
import { ExpirySweeperService } from '../expiry/expiry-sweeper.service';
import { EventStreamTrimmer } from './event-stream-trimmer';

/**
 * Consumes the maintenance queue: unpacks a job and calls the service that does the work. One
 * job at a time per worker; BullMQ gives each job to one worker of the fleet.
 */
@Processor(MAINTENANCE_QUEUE, { concurrency: 1 })
export class MaintenanceProcessor extends WorkerHost implements OnModuleDestroy {
  /** A Record, so a job name without a handler does not compile. */
  private readonly handlers: Record<MaintenanceJobName, () => Promise<unknown>>;

  constructor(
    expiry: ExpirySweeperService,
    events: EventStreamTrimmer,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
    this.handlers = {
      [MaintenanceJobName.ExpirySweep]: () => expiry.sweep(),
      [MaintenanceJobName.EventStreamTrim]: () => events.trim(),
    };
  }

  async process(job: Job): Promise<unknown> {
    const handler = this.handlers[job.name as MaintenanceJobName] as
      (() => Promise<unknown>) | undefined;
    // A job of a newer version's making: fail it, do not retry it here.
    if (!handler) throw new UnrecoverableError(`no handler for maintenance job "${job.name}"`);
    return handler();
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, err: Error): void {
    this.logger.warn({ err, job: job?.name }, 'maintenance job failed');
  }

  @OnWorkerEvent('error')
  onError(err: Error): void {
    // Connection trouble while Redis is down: the Worker reconnects by itself.
    this.logger.debug({ err }, 'maintenance worker error');
  }

  /**
   * Stops taking jobs (and waits for a running one) before any shutdown hook runs: the
   * connection it rides on closes in the core module's hook, and sessions are handed over in
   * the ownership service's.
   */
  async onModuleDestroy(): Promise<void> {
    await this.worker.close();
  }
}
