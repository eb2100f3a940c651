import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { LOGGER } from '@app/core';
import {
  webhookReplayJobId,
  WEBHOOKS_QUEUE,
  WebhookDeadLetterStore,
  webhookJobOptions,
  WebhookJobName,
  type WebhookDeadLetter,
  type WebhookJob,
} from '@app/queue';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { ApiError } from '../common/api-error';
import { deadLetterView, type DeadLetterView } from './dead-letter-view';
import { WebhookEndpoints } from './webhook-endpoints.service';

/** Dead letters replayed per page by a session-wide replay. */
const REPLAY_PAGE = 500;

/** Lists dead-lettered webhook deliveries and puts them back on the delivery queue. */
@Injectable()
export class DeadLettersService {
  constructor(
    private readonly store: WebhookDeadLetterStore,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<WebhookJob>,
    private readonly endpoints: WebhookEndpoints,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    // Failures surface on the calls (503); without a listener an 'error' event would crash.
    queue.on('error', () => undefined);
  }

  async list(opts: {
    session?: string;
    limit: number;
    offset: number;
  }): Promise<{ deadLetters: DeadLetterView[]; total: number }> {
    const [letters, total] = await Promise.all([
      this.store.list(opts),
      this.store.count(opts.session),
    ]);
    return { deadLetters: letters.map(deadLetterView), total };
  }

  async get(id: string): Promise<DeadLetterView> {
    return deadLetterView(await this.find(id));
  }

  async replay(id: string): Promise<{ id: string; jobId: string }> {
    return { id, jobId: await this.requeue(await this.find(id)) };
  }

  /** Replays every dead letter of a session (those there when the call began). */
  async replaySession(session: string): Promise<number> {
    const total = await this.store.count(session);
    let replayed = 0;
    while (replayed < total) {
      // Each replay leaves the index, so the next page starts at the top again.
      const page = await this.store.list({
        session,
        limit: Math.min(REPLAY_PAGE, total - replayed),
      });
      if (page.length === 0) break;
      for (const letter of page) await this.requeue(letter);
      replayed += page.length;
    }
    return replayed;
  }

  /**
   * Queues replay number n of a dead letter: the same event (same id, so the same `webhook-id`)
   * to the same kind of endpoint, under job id `<delivery id>.r<n>`; then forgets the dead
   * letter and re-enables the endpoint (a replay is how an operator says the receiver is back).
   * `n` only moves once the job is queued: a call that crashed in between and is retried
   * queues the same job id, which BullMQ ignores.
   */
  private async requeue(letter: WebhookDeadLetter): Promise<string> {
    const n = letter.replays + 1;
    const jobId = webhookReplayJobId(letter.id, n);
    await this.queue.add(
      WebhookJobName.Deliver,
      { deliveryId: letter.id, event: letter.event, endpoint: letter.endpoint },
      { ...webhookJobOptions(this.config.webhookRetryScheduleMs.length + 1), jobId },
    );
    await this.store.settleReplay(letter, n);
    await this.endpoints.enable(letter.endpoint.kind, letter.session);
    this.logger.info(
      { deliveryId: letter.id, eventId: letter.event.id, sessionId: letter.session, jobId },
      'webhook dead letter replayed',
    );
    return jobId;
  }

  private async find(id: string): Promise<WebhookDeadLetter> {
    const letter = await this.store.get(id);
    if (!letter) {
      throw ApiError.notFound('DEAD_LETTER_NOT_FOUND', `Dead letter "${id}" does not exist`);
    }
    return letter;
  }
}
