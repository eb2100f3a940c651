import { randomBytes } from 'node:crypto';
import {
  ConfigError,
  EnvReader,
  readMetricsApiKey,
  readSharedConfig,
  type SharedConfig,
} from '@app/core';
import { readWebhookRetrySchedule } from '@app/queue';
import { DRIVER_NAMES, type DriverName } from '@app/session';

/** Everything the gateway reads from the environment, validated once at boot. */
export interface GatewayConfig extends SharedConfig {
  /** PORT: HTTP port. */
  port: number;
  /** HOST: interface to listen on. */
  host: string;
  production: boolean;
  /** API_KEYS: accepted keys. Outside production a random one is made when none is set. */
  apiKeys: string[];
  /** True when the key was generated at boot (it is then printed once, at start). */
  apiKeyGenerated: boolean;
  /** DEFAULT_DRIVER: driver of a session created without one. */
  defaultDriver: DriverName;
  /** MAX_QUEUED_PER_SESSION: unsent messages a session may hold before 429 QUEUE_FULL. */
  maxQueuedPerSession: number;
  /** BODY_LIMIT_BYTES: largest request body (413 above it). */
  bodyLimitBytes: number;
  /** RATE_LIMIT_PER_MINUTE: requests one API key may make per minute (429 above it). */
  requestsPerMinute: number;
  /** CONTROL_TIMEOUT_MS: how long the gateway waits for the owning worker to answer. */
  controlTimeoutMs: number;
  /** AUTH_FAILURES_PER_MINUTE: 401s one address may get per minute before it gets 429. */
  authFailuresPerMinute: number;
  /** MAX_SCHEDULE_DAYS: how far ahead `sendAt` may lie. */
  maxScheduleDays: number;
  /** MEDIA_MAX_BYTES: largest inline (base64) media, decoded; the worker's limit for fetched media. */
  mediaMaxBytes: number;
  /**
   * MEDIA_FETCH_TIMEOUT_MS: the worker's bound on loading media; the gateway waits that much
   * longer than CONTROL_TIMEOUT_MS for commands that load media (incoming media, simulator).
   */
  mediaFetchTimeoutMs: number;
  /** WEBHOOK_ALLOW_PRIVATE: accept webhook URLs on loopback or private addresses. */
  webhookAllowPrivate: boolean;
  /** WEBHOOK_RETRY_SCHEDULE_MS: the workers' retry delays; a replay job gets as many attempts. */
  webhookRetryScheduleMs: readonly number[];
  /** BULL_BOARD_READ_ONLY: Bull Board shows the queues but allows no action on any of them. */
  bullBoardReadOnly: boolean;
  /**
   * TRUST_PROXY: whose `X-Forwarded-For` names the client (per-address 401 throttling, logs):
   * false (no one: the peer address counts), true (anyone: only behind a proxy that overwrites
   * the header), or a comma-separated list of proxy addresses / CIDRs.
   */
  trustProxy: boolean | string;
  /** EVENTS_HEARTBEAT_MS: how often an open `GET /api/events` stream gets a `: ping` comment. */
  eventsHeartbeatMs: number;
  /** METRICS_API_KEY: when set, `GET /metrics` needs it (bearer, basic password or X-Api-Key). */
  metricsApiKey: string | undefined;
  logLevel: string;
  /**
   * GATEWAY_WORKERS: gateway processes on this host sharing PORT (node:cluster). 1 runs no
   * cluster; more use more cores (one process is CPU-bound on one core under load).
   */
  workers: number;
}

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

export function loadGatewayConfig(env = new EnvReader()): GatewayConfig {
  const shared = readSharedConfig(env);
  const production = env.string('NODE_ENV', 'development') === 'production';
  let apiKeys = env.list('API_KEYS');
  let apiKeyGenerated = false;
  if (apiKeys.length === 0) {
    if (production) throw new ConfigError('API_KEYS', 'is required when NODE_ENV=production');
    apiKeys = [`dev_${randomBytes(18).toString('base64url')}`];
    apiKeyGenerated = true;
  }
  for (const k of apiKeys) {
    if (k.length < 16)
      throw new ConfigError('API_KEYS', 'entries must be at least 16 characters long');
  }
  return {
    ...shared,
    port: env.int('PORT', 3000, 0, 65535),
    host: env.string('HOST', '0.0.0.0'),
    production,
    apiKeys,
    apiKeyGenerated,
    defaultDriver: env.oneOf('DEFAULT_DRIVER', DRIVER_NAMES, 'wwebjs'),
    maxQueuedPerSession: env.int('MAX_QUEUED_PER_SESSION', 100000, 1),
    bodyLimitBytes: env.int('BODY_LIMIT_BYTES', 16 * 1024 * 1024, 1024),
    requestsPerMinute: env.int('RATE_LIMIT_PER_MINUTE', 6000, 1),
    controlTimeoutMs: env.int('CONTROL_TIMEOUT_MS', 5000, 100, 120000),
    authFailuresPerMinute: env.int('AUTH_FAILURES_PER_MINUTE', 30, 1),
    maxScheduleDays: env.int('MAX_SCHEDULE_DAYS', 365, 1, 3650),
    // Same variable and bounds as the worker's, which applies it to media fetched from a URL.
    mediaMaxBytes: env.int('MEDIA_MAX_BYTES', 16 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
    mediaFetchTimeoutMs: env.int('MEDIA_FETCH_TIMEOUT_MS', 30000, 100, 600000),
    webhookAllowPrivate: env.bool('WEBHOOK_ALLOW_PRIVATE', false),
    webhookRetryScheduleMs: readWebhookRetrySchedule(env),
    bullBoardReadOnly: env.bool('BULL_BOARD_READ_ONLY', false),
    trustProxy: readTrustProxy(env),
    // Proxies and load balancers close a connection idle for 30-60 s: ping well inside that.
    eventsHeartbeatMs: env.int('EVENTS_HEARTBEAT_MS', 15000, 100, 600000),
    metricsApiKey: readMetricsApiKey(env),
    logLevel: env.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], 'info'),
    workers: env.int('GATEWAY_WORKERS', 1, 1, 64),
  };
}

/** TRUST_PROXY as Fastify takes it; trusting every sender would let anyone pick their address. */
function readTrustProxy(env: EnvReader): boolean | string {
  const raw = env.string('TRUST_PROXY', 'false').trim();
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  if (/^(true|yes|on)$/i.test(raw)) return true;
  const entries = raw.split(',').map((s) => s.trim());
  if (entries.every((e) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(e))) return entries.join(',');
  throw new ConfigError(
    'TRUST_PROXY',
    `must be false, true or comma-separated proxy addresses/CIDRs, got "${raw}"`,
  );
}
