import type { OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';

/** Something that rides on the shared connections and must let go of them before they close. */
export interface ConnectionUser {
  close(): Promise<void>;
}

/**
 * Closes the shared connections at shutdown (the command connection, the BullMQ connection),
 * after what rides on them. It lives in the global core module, whose shutdown hooks Nest runs
 * after every other module's (global modules have the largest distance and shutdown runs in
 * reverse): sessions are handed over, timers stopped, processors and subscribers closed while
 * Redis is still there. A connection left open would keep the process (and jest) alive.
 */
export class RedisLifecycle implements OnApplicationShutdown {
  constructor(
    private readonly connections: Redis[],
    private readonly users: ConnectionUser[],
  ) {}

  async onApplicationShutdown(): Promise<void> {
    for (const user of this.users) await user.close();
    for (const redis of this.connections) {
      // A lazy connection nobody used has no socket: QUIT would open one just to close it.
      if (redis.status === 'wait') redis.disconnect();
      else await redis.quit().catch(() => redis.disconnect());
    }
  }
}
