import type { Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  createRedis,
  redisTarget,
  DEFAULT_SEND_JOB_POLICY,
  MessageQueueService,
  MessageStore,
  OutboundQueues,
  RedisKeys,
} from '@app/queue';
import { SessionStore, SimulatorOutboxReader } from '@app/session';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';

/**
 * The gateway's command connection. It fails fast while Redis is down (no offline queue), so
 * a request is answered 503 at once and never 202 for something not stored.
 */
export const REDIS = Symbol('REDIS');

export const redisProviders: Provider[] = [
  {
    provide: REDIS,
    inject: [GATEWAY_CONFIG],
    useFactory: (c: GatewayConfig) => {
      const redis = createRedis(redisTarget(c), 'producer', 'gateway');
      redis.on('error', () => undefined); // reported by /readyz and 503s, not as crashes
      return redis;
    },
  },
  {
    provide: RedisKeys,
    inject: [GATEWAY_CONFIG],
    useFactory: (c: GatewayConfig) => new RedisKeys(c.queuePrefix),
  },
  {
    provide: SessionStore,
    inject: [REDIS, RedisKeys],
    useFactory: (r: Redis, k: RedisKeys) => new SessionStore(r, k),
  },
  {
    provide: MessageStore,
    inject: [REDIS, RedisKeys, GATEWAY_CONFIG],
    useFactory: (r: Redis, k: RedisKeys, c: GatewayConfig) =>
      new MessageStore(r, k, c.messageRetentionDays * 86400),
  },
  {
    provide: OutboundQueues,
    inject: [REDIS, GATEWAY_CONFIG],
    useFactory: (r: Redis, c: GatewayConfig) => new OutboundQueues(r, c.queuePrefix),
  },
  {
    provide: MessageQueueService,
    inject: [OutboundQueues, MessageStore, GATEWAY_CONFIG],
    useFactory: (q: OutboundQueues, m: MessageStore, c: GatewayConfig) =>
      new MessageQueueService(q, m, {
        ...DEFAULT_SEND_JOB_POLICY,
        maxAttempts: c.messageMaxAttempts,
      }),
  },
  {
    provide: SimulatorOutboxReader,
    inject: [REDIS, RedisKeys],
    useFactory: (r: Redis, k: RedisKeys) => new SimulatorOutboxReader(r, k),
  },
];
