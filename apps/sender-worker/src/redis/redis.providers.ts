import type { Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { createRedis, redisTarget, RedisKeys } from '@app/core';
import { MessageStore, OutboundQueues } from '@app/queue';
import { SessionStore } from '@app/session';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';

/** The worker's command connection: waits out Redis outages instead of failing. */
export const REDIS = Symbol('REDIS');

export const redisProviders: Provider[] = [
  {
    provide: REDIS,
    inject: [WORKER_CONFIG],
    useFactory: (c: WorkerConfig) => createRedis(redisTarget(c), 'worker', `worker:${c.workerId}`),
  },
  {
    provide: RedisKeys,
    inject: [WORKER_CONFIG],
    useFactory: (c: WorkerConfig) => new RedisKeys(c.queuePrefix),
  },
  {
    provide: SessionStore,
    inject: [REDIS, RedisKeys],
    useFactory: (r: Redis, k: RedisKeys) => new SessionStore(r, k),
  },
  {
    provide: MessageStore,
    inject: [REDIS, RedisKeys, WORKER_CONFIG],
    useFactory: (r: Redis, k: RedisKeys, c: WorkerConfig) =>
      new MessageStore(r, k, c.messageRetentionDays * 86400),
  },
  {
    provide: OutboundQueues,
    inject: [REDIS, WORKER_CONFIG],
    useFactory: (r: Redis, c: WorkerConfig) => new OutboundQueues(r, c.queuePrefix),
  },
];
