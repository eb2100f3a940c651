import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import { parseRedisUrl } from './redis-url';

/**
 * What a connection is for decides how it behaves while Redis is down:
 * - `producer` (HTTP handlers): fail fast (`enableOfflineQueue: false`) so the gateway answers
 *   503 within a reconnect attempt instead of hanging, and never answers 202 for what it did not
 *   store. Auto-pipelined (below).
 * - `worker` (BullMQ workers, blocking reads, subscribers): wait and retry forever.
 */
export type ConnectionRole = 'producer' | 'worker';

/**
 * Where Redis is: one server or a primary behind Sentinel (REDIS_URL, see redis-url.ts), or a
 * Redis Cluster (REDIS_CLUSTER_NODES).
 */
export interface RedisTarget {
  url: string;
  /** `host:port` seed nodes; when set, the connection is a Redis Cluster client. */
  clusterNodes?: string[];
}

export interface ConnectionExtras {
  /**
   * Connect on the first command instead of at once: a connection a process may never use
   * (the BullMQ connection of a gateway without fixed queues) then opens no socket.
   */
  lazy?: boolean;
}

export function redisOptions(
  role: ConnectionRole,
  name: string,
  extras: ConnectionExtras = {},
): RedisOptions {
  const base: RedisOptions = {
    connectionName: name,
    lazyConnect: extras.lazy ?? false,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    // Reconnect after a failover turns a primary into a replica.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
  if (role === 'producer') {
    return {
      ...base,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      // The gateway's concurrent requests each issue their own short commands (the creation
      // script, BullMQ's add, the session re-check): ioredis gathers those issued within one
      // turn of the event loop into one write, and sends the next batch once the last one is
      // answered. One socket write for many requests instead of one each (a write cost the
      // gateway 13 % of its CPU; issue 13, README Benchmarks). Order on the connection is kept
      // (a batch goes out in the order its commands were issued, batches one after the other);
      // what a request awaits before its next command still comes first. Only this connection:
      // it carries no blocking command (the SSE hub and BullMQ Workers have their own), and a
      // MULTI (FlowProducer.addBulk, record reads) goes out at once, outside the batch, which
      // only matters to a caller that does not await what it issued before: none does.
      // With Redis gone, a batch on the wire fails after ioredis's one retry (a reconnect
      // attempt: ~100 ms to a killed local Redis), and commands issued meanwhile wait for it,
      // then are refused: the 503 comes that much later than "at once", never as a 500
      // (error-shape.ts; producer-redis.int-spec.ts).
      enableAutoPipelining: true,
    };
  }
  return base;
}

/**
 * A connection for `role`. A Cluster client is returned typed as Redis: every command this
 * system issues is single-slot (keys share a `{hash tag}`), which is what a Cluster client needs.
 */
export function createRedis(
  target: string | RedisTarget,
  role: ConnectionRole,
  name: string,
  extras: ConnectionExtras = {},
): Redis {
  const t = typeof target === 'string' ? { url: target } : target;
  if (t.clusterNodes?.length) {
    const nodes: ClusterNode[] = t.clusterNodes.map((n) => {
      const [host, port] = n.split(':');
      return { host, port: Number(port) };
    });
    // Auto-pipelining is left off under Cluster: its batches are per node, and it was neither
    // measured nor tested there (redis-cluster.e2e-spec.ts runs without it).
    const {
      /* eslint-disable @typescript-eslint/no-unused-vars */
      retryStrategy,
      enableOfflineQueue,
      lazyConnect,
      enableAutoPipelining,
      /* eslint-enable @typescript-eslint/no-unused-vars */
      ...options
    } = redisOptions(role, name);
    const password = t.url ? new URL(t.url).password || undefined : undefined;
    const cluster = new Cluster(nodes, {
      redisOptions: { ...options, password },
      enableOfflineQueue: role !== 'producer',
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      maxRedirections: 16,
      lazyConnect: extras.lazy ?? false,
    });
    return cluster as unknown as Redis;
  }
  const url = parseRedisUrl(t.url);
  if (url.kind === 'sentinel') {
    const { sentinels, name: masterName, username, password, sentinelPassword, db } = url;
    return new Redis({
      ...redisOptions(role, name, extras),
      sentinels,
      name: masterName,
      username,
      password,
      sentinelPassword,
      db,
      // Sentinels are asked again on every reconnection: a failover moves us to the new primary.
      sentinelRetryStrategy: (times) => Math.min(100 * times, 2000),
      // And watched (their +switch-master): a primary cut off from the Sentinels but still
      // reachable from here is left at once, not on its first READONLY or CLIENT KILL.
      failoverDetector: true,
    });
  }
  return new Redis(t.url, redisOptions(role, name, extras));
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
