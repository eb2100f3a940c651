import { parseRedisUrl, RedisUrlError } from '../redis/redis-url';

/**
 * Reading configuration from the environment, validated at boot: a bad value throws a
 * ConfigError that names the variable, and the process stops before doing anything.
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

export class EnvReader {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  string(name: string, fallback: string): string {
    const v = this.env[name];
    return v === undefined || v === '' ? fallback : v;
  }

  optionalString(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v === '' ? undefined : v;
  }

  int(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^-?\d+$/.test(raw.trim()))
      throw new ConfigError(name, `must be an integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max)
      throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new ConfigError(name, `must be true or false, got "${raw}"`);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.string(name, fallback);
    if (!(allowed as readonly string[]).includes(raw)) {
      throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
    }
    return raw as T;
  }

  list(name: string): string[] {
    return (this.env[name] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
}

/** What every process shares: where Redis is and the prefix of every key. */
export interface SharedConfig {
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: `host:port,…` seed nodes of a Redis Cluster (else REDIS_URL alone). */
  redisClusterNodes: string[];
  queuePrefix: string;
  /** MESSAGE_RETENTION_DAYS: how long a message record stays readable after its last change. */
  messageRetentionDays: number;
  /** MESSAGE_MAX_ATTEMPTS: retryable failures a message may meet before it is failed. */
  messageMaxAttempts: number;
  /** SESSION_LEASE_MS: a session whose owner stops renewing for this long is adopted. */
  sessionLeaseMs: number;
}

export function readSharedConfig(env: EnvReader): SharedConfig {
  const redisUrl = env.string('REDIS_URL', 'redis://127.0.0.1:6379');
  try {
    parseRedisUrl(redisUrl);
  } catch (err) {
    if (err instanceof RedisUrlError) throw new ConfigError('REDIS_URL', err.message);
    throw err;
  }
  const queuePrefix = env.string('QUEUE_PREFIX', 'wa');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(queuePrefix)) {
    throw new ConfigError('QUEUE_PREFIX', 'must be 1–64 letters, digits, ".", "_" or "-"');
  }
  const redisClusterNodes = env.list('REDIS_CLUSTER_NODES');
  if (redisClusterNodes.length && redisUrl.startsWith('redis+sentinel://')) {
    throw new ConfigError(
      'REDIS_CLUSTER_NODES',
      'and a Sentinel REDIS_URL exclude each other: a Redis Cluster has no Sentinels',
    );
  }
  for (const n of redisClusterNodes) {
    if (!/^[^:\s]+:\d{1,5}$/.test(n))
      throw new ConfigError('REDIS_CLUSTER_NODES', `entries must be host:port, got "${n}"`);
  }
  return {
    redisUrl,
    redisClusterNodes,
    queuePrefix,
    messageRetentionDays: env.int('MESSAGE_RETENTION_DAYS', 7, 1, 3650),
    messageMaxAttempts: env.int('MESSAGE_MAX_ATTEMPTS', 5, 1, 100),
    sessionLeaseMs: env.int('SESSION_LEASE_MS', 15000, 1000, 600000),
  };
}

/** Where Redis is, from the shared configuration. */
export function redisTarget(c: Pick<SharedConfig, 'redisUrl' | 'redisClusterNodes'>): {
  url: string;
  clusterNodes: string[];
} {
  return { url: c.redisUrl, clusterNodes: c.redisClusterNodes };
}
