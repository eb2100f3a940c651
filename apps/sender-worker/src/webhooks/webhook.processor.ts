import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, type OnModuleDestroy } from '@nestjs/common';
import { UnrecoverableError, type Job, type WorkerOptions } from 'bullmq';
import type { Logger } from 'pino';
import { LOGGER } from '@app/core';
import { WEBHOOKS_QUEUE, type WebhookJob } from '@app/queue';
import type { WebhookSettings } from '../config/webhook.config';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { webhookBackoffStrategy, WebhookRetryError } from './retry-schedule';

/**
 * The delivery Worker's options, from the configuration read at boot (`WebhooksModule.forRoot`
 * applies them: a decorator's arguments are fixed when the class loads, before the config is).
 * A SIGKILLed worker's delivery is back in the queue once its lock lapsed (WEBHOOK_LOCK_MS) and
 * the stalled check (every half of it) ran; a stall uses no attempt and never fails a delivery
 * (`maxStalledCount` high), since a re-run only posts again what had no answer.
 */
export function webhookWorkerOptions(settings: WebhookSettings): Partial<WorkerOptions> {
  return {
    concurrency: settings.concurrency,
    lockDuration: settings.lockMs,
    stalledInterval: Math.max(500, Math.floor(settings.lockMs / 2)),
    maxStalledCount: 1000,
    settings: { backoffStrategy: webhookBackoffStrategy(settings.retryScheduleMs) },
  };
}

/** Consumes the webhooks queue: unpacks a job, lets the delivery service do the work. */
@Processor(WEBHOOKS_QUEUE)
export class WebhookProcessor extends WorkerHost implements OnModuleDestroy {
  constructor(
    private readonly delivery: WebhookDeliveryService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  async process(job: Job<WebhookJob>): Promise<string> {
    const outcome = await this.delivery.deliver({
      id: job.id!,
      data: job.data,
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      saveAttempts: (attempts) => job.updateData({ ...job.data, attempts }),
    });
    switch (outcome.kind) {
      case 'retry':
        throw new WebhookRetryError(outcome.error, outcome.retryAfterMs);
      case 'dead':
        throw new UnrecoverableError(`${outcome.code}: ${outcome.message}`);
      default:
        return outcome.kind;
    }
  }

  @OnWorkerEvent('error')
  onError(err: Error): void {
    // Connection trouble while Redis is down: the Worker reconnects by itself.
    this.logger.debug({ err }, 'webhook worker error');
  }

  /** Stops taking deliveries (and waits for those in flight) before the connections close. */
  async onModuleDestroy(): Promise<void> {
    await this.worker.close();
  }
}
