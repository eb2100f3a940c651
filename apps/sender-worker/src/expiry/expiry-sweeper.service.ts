import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { MessageQueueService, MessageStore } from '@app/queue';
import { LOGGER } from '@app/core';

const SWEEP_INTERVAL_MS = 1000;
const SWEEP_BATCH = 200;

/**
 * Marks `expired` the queued messages whose expiresAt has passed, also in paused queues, so
 * their status is true on time and a message is never sent late. Every worker sweeps; the
 * status compare-and-set makes that safe.
 */
@Injectable()
export class ExpirySweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly messages: MessageStore,
    private readonly producer: MessageQueueService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running = this.sweep()
        .then(() => undefined)
        .catch((err: unknown) => this.logger.debug({ err }, 'expiry sweep failed'));
    }, SWEEP_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

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
