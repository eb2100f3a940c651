import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { OutboundQueues } from '@app/queue';
import { REDIS } from './redis.providers';

/** Closes the shared connection last, after every user of it has stopped. */
@Injectable()
export class RedisLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly queues: OutboundQueues,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.queues.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
