import type { OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';

/** Something that rides on the shared connection and must let go of it before it closes. */
export interface ConnectionUser {
  close(): Promise<void>;
}

/**
 * Closes the shared command connection at shutdown, after what rides on it. It lives in the
 * global core module, whose shutdown hooks Nest runs after every other module's (global modules
 * have the largest distance and shutdown runs in reverse): sessions are handed over, timers
 * stopped and subscribers closed while Redis is still there.
 */
export class RedisLifecycle implements OnApplicationShutdown {
  constructor(
    private readonly redis: Redis,
    private readonly users: ConnectionUser[],
  ) {}

  async onApplicationShutdown(): Promise<void> {
    for (const user of this.users) await user.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
