import type { Redis } from 'ioredis';
import { waitForReady } from './redis-connection';

/** How long the check waits for the connection before it says it could not look. */
const READY_WAIT_MS = 10000;

/**
 * What this Redis would lose in a crash, in words an operator can act on. Accepted messages
 * survive a Redis crash only with AOF `appendfsync always`, and a queued job must never be
 * evicted (`noeviction`). Empty when the configuration is right.
 */
export async function redisDurabilityWarnings(
  redis: Redis,
  readyWaitMs = READY_WAIT_MS,
): Promise<string[]> {
  let config: Record<string, string>;
  // A connection without an offline queue (the gateway's) refuses commands until it is ready:
  // asking at once would report a refusal that is only a connection still being made.
  const ready = await waitForReady(redis, readyWaitMs).then(
    () => true,
    () => false,
  );
  if (!ready) {
    return [
      'could not read the Redis configuration (Redis not reachable yet): make sure it runs with appendonly yes, appendfsync always and maxmemory-policy noeviction',
    ];
  }
  try {
    const pairs = (await redis.call('CONFIG', 'GET', '*')) as string[];
    config = {};
    for (let i = 0; i + 1 < pairs.length; i += 2) config[pairs[i]] = pairs[i + 1];
  } catch {
    return [
      'could not read the Redis configuration (CONFIG GET refused): make sure it runs with appendonly yes, appendfsync always and maxmemory-policy noeviction',
    ];
  }
  const warnings: string[] = [];
  if (config.appendonly !== 'yes') {
    warnings.push(
      'Redis runs without AOF (appendonly no): a Redis crash loses accepted messages. Run it with appendonly yes, appendfsync always',
    );
  } else if (config.appendfsync !== 'always') {
    warnings.push(
      `Redis AOF uses appendfsync ${config.appendfsync}: a crash can lose up to a second of accepted messages. Use appendfsync always`,
    );
  }
  if (config['maxmemory-policy'] && config['maxmemory-policy'] !== 'noeviction') {
    warnings.push(
      `Redis maxmemory-policy is ${config['maxmemory-policy']}: it may evict queued messages. Use noeviction`,
    );
  }
  return warnings;
}
