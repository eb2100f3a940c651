import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { MessageQueueService, MessageStore } from '@app/queue';
import { LOGGER } from '@app/core';

const SWEEP_BATCH = 200;

/**
 * Marks `expired` the queued messages whose expiresAt has passed, also in paused queues, so
 * their status is true on time and a message is never sent late. Run every second by the
 * maintenance queue's `expiry-sweep` scheduler (`maintenance/`), on one worker of the fleet at
 * a time; the status compare-and-set would make two sweeps at once safe all the same.
 */
@Injectable()
export class ExpirySweeperService {
  constructor(
    private readonly messages: MessageStore,
    private readonly producer: MessageQueueService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** One sweep of up to SWEEP_BATCH due messages; returns how many it expired. */
  async sweep(now = Date.now()): Promise<number> {
    const ids = await this.messages.dueExpiries(now, SWEEP_BATCH);
    let expired = 0;
    const done: string[] = [];
    for (const id of ids) {
      const record = await this.messages.get(id);
      if (!record || record.status !== 'queued') {
        done.push(id); // final, gone, or in flight (the send path checks expiry itself)
        continue;
      }
      const outcome = await this.producer.expire(id, record.session);
      if (outcome.result === 'cancelled') {
        expired++;
        this.logger.info({ sessionId: record.session, messageId: id }, 'message expired');
      }
      done.push(id);
    }
    await this.messages.forgetExpiry(done);
    return expired;
  }
}
