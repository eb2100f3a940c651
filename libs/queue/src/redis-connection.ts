import { Redis, type RedisOptions } from 'ioredis';

/**
 * What a connection is for decides how it behaves while Redis is down:
 * - `producer` (HTTP handlers): fail at once (`enableOfflineQueue: false`) so the gateway answers
 *   503 in a millisecond instead of hanging and never answers 202 for what it did not store.
 * - `worker` (BullMQ workers, blocking reads, subscribers): wait and retry forever.
 */
export type ConnectionRole = 'producer' | 'worker';

export function redisOptions(role: ConnectionRole, name: string): RedisOptions {
  const base: RedisOptions = {
    connectionName: name,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    // Reconnect after a failover turns a primary into a replica.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
  if (role === 'producer') {
    return { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 };
  }
  return base;
}

export function createRedis(url: string, role: ConnectionRole, name: string): Redis {
  return new Redis(url, redisOptions(role, name));
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitForReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
