import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LOGGER, REDIS, RedisKeys } from '@app/core';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { SessionOwnershipService } from '../ownership/session-ownership.service';
import { ConsistencyCheck } from './consistency-check';
import { RecordSettler } from './record-settler';

/** Records younger than this are never judged: the gateway may still be writing their job. */
export const CONSISTENCY_GRACE_MS = 60000;

/**
 * Every CONSISTENCY_CHECK_INTERVAL_MS, for the sessions this worker owns, settles the records
 * whose job is gone or finished while the record is not final (see ConsistencyCheck).
 */
@Injectable()
export class ConsistencyCheckService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private readonly check: ConsistencyCheck;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(REDIS) redis: Redis,
    keys: RedisKeys,
    private readonly settler: RecordSettler,
    private readonly ownership: SessionOwnershipService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.check = new ConsistencyCheck(redis, keys, settler, CONSISTENCY_GRACE_MS);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.runOnce()).then(() => undefined);
    }, this.config.consistencyCheckIntervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  async runOnce(): Promise<number> {
    let fixed = 0;
    try {
      for (const rt of this.ownership.owned()) {
        fixed += await this.check.checkSession({
          sessionId: rt.sessionId,
          queue: rt.queue,
          driver: rt.readyDriver(),
        });
      }
      await this.settler.checked();
    } catch (err) {
      this.logger.warn({ err }, 'consistency check failed');
    }
    return fixed;
  }
}
