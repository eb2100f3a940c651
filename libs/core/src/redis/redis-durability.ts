import type { Redis } from 'ioredis';

/**
 * What this Redis would lose in a crash, in words an operator can act on. Accepted messages
 * survive a Redis crash only with AOF `appendfsync always`, and a queued job must never be
 * evicted (`noeviction`). Empty when the configuration is right.
 */
export async function redisDurabilityWarnings(redis: Redis): Promise<string[]> {
  let config: Record<string, string>;
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
