import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { EnvReader, readMetricsApiKey, readSharedConfig, type SharedConfig } from '@app/core';
import type { MediaLimits, WwebjsSettings } from '@app/session';
import { workerProfileFolder } from './profile-folder';
import { readWebhookSettings, type WebhookSettings } from './webhook.config';

/** Everything a sender worker reads from the environment, validated once at boot. */
export interface WorkerConfig extends SharedConfig {
  /** WORKER_ID: how this worker names itself in leases, logs and metrics. */
  workerId: string;
  /** WORKER_MAX_SESSIONS: sessions this worker owns at most. */
  maxSessions: number;
  /** SEND_TIMEOUT_MS: a send not settled by then has an unknown outcome. */
  sendTimeoutMs: number;
  /** HEALTH_CHECK_INTERVAL_MS: period of the health probe of each ready session. */
  healthCheckIntervalMs: number;
  /** HEALTH_CHECK_TIMEOUT_MS: a probe that does not answer by then failed. */
  healthCheckTimeoutMs: number;
  /** RECOVERY_MAX_ATTEMPTS: restarts of a lost session before it is marked failed. */
  recoveryMaxAttempts: number;
  /** RECOVERY_STEP_TIMEOUT_MS: how long one recovery step may take to bring the session back. */
  recoveryStepTimeoutMs: number;
  /** SEND_ERROR_CIRCUIT: retryable send errors of one kind in a row that stop a session. */
  sendErrorCircuit: number;
  /** CONSISTENCY_CHECK_INTERVAL_MS: period of the check that settles records whose job ended. */
  consistencyCheckIntervalMs: number;
  /** SHUTDOWN_GRACE_MS: on SIGTERM, how long an in-flight send may take to finish. */
  shutdownGraceMs: number;
  /** Settings of the wwebjs driver (CHROMIUM_PATH, CHROMIUM_ARGS, CHROMIUM_EXTRA_ARGS, …). */
  wwebjs: WwebjsSettings;
  /** MEDIA_MAX_BYTES, MEDIA_FETCH_TIMEOUT_MS, MEDIA_ALLOW_PRIVATE: media limits of every driver. */
  media: MediaLimits;
  /** BROWSER_MEMORY_LIMIT_MB: above it a session's browser is recycled on purpose; 0 = never. */
  browserMemoryLimitMb: number;
  /** BROWSER_RECYCLE_HOURS: recycle every browser after this long; 0 = never. */
  browserRecycleHours: number;
  /** WEBHOOK_*: routing and delivery of webhooks (see webhook.config.ts). */
  webhooks: WebhookSettings;
  /**
   * EVENT_STREAM_RETENTION_MS: events older than this leave the event stream (the live
   * stream's resume window), never before the webhook router has routed them.
   */
  eventStreamRetentionMs: number;
  /** WORKER_METRICS_PORT: port of this worker's `GET /metrics`; 0 = no metrics server. */
  metricsPort: number;
  /** WORKER_METRICS_HOST: interface the metrics server listens on. */
  metricsHost: string;
  /** METRICS_API_KEY: when set, a scrape must present it. */
  metricsApiKey: string | undefined;
  logLevel: string;
}

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

export function loadWorkerConfig(env = new EnvReader()): WorkerConfig {
  const shared = readSharedConfig(env);
  const workerId = env.string('WORKER_ID', `${hostname()}-${process.pid}`);
  return {
    ...shared,
    workerId,
    maxSessions: env.int('WORKER_MAX_SESSIONS', 10, 1, 10000),
    sendTimeoutMs: env.int('SEND_TIMEOUT_MS', 120000, 100, 3600000),
    healthCheckIntervalMs: env.int('HEALTH_CHECK_INTERVAL_MS', 30000, 100, 3600000),
    healthCheckTimeoutMs: env.int('HEALTH_CHECK_TIMEOUT_MS', 10000, 50, 600000),
    recoveryMaxAttempts: env.int('RECOVERY_MAX_ATTEMPTS', 10, 1, 1000),
    recoveryStepTimeoutMs: env.int('RECOVERY_STEP_TIMEOUT_MS', 90000, 100, 3600000),
    sendErrorCircuit: env.int('SEND_ERROR_CIRCUIT', 5, 1, 1000),
    shutdownGraceMs: env.int('SHUTDOWN_GRACE_MS', 10000, 0, 600000),
    consistencyCheckIntervalMs: env.int('CONSISTENCY_CHECK_INTERVAL_MS', 60000, 100, 86400000),
    wwebjs: {
      chromiumPath: env.string('CHROMIUM_PATH', '/usr/bin/chromium'),
      chromiumArgsOverride: env.optionalString('CHROMIUM_ARGS'),
      chromiumExtraArgs: env.optionalString('CHROMIUM_EXTRA_ARGS'),
      // This worker's own folder under the (possibly shared) volume: see profile-folder.ts.
      sessionDataDir: workerProfileFolder(
        resolve(env.string('SESSION_DATA_DIR', './.data/sessions')),
        hostname(),
      ),
      sessionStore: env.oneOf('SESSION_STORE', ['local', 'redis'] as const, 'local'),
      startTimeoutMs: env.int('WWEBJS_START_TIMEOUT_MS', 120000, 1000, 3600000),
    },
    media: {
      maxBytes: env.int('MEDIA_MAX_BYTES', 16 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
      timeoutMs: env.int('MEDIA_FETCH_TIMEOUT_MS', 30000, 100, 600000),
      allowPrivate: env.bool('MEDIA_ALLOW_PRIVATE', false),
    },
    browserMemoryLimitMb: env.int('BROWSER_MEMORY_LIMIT_MB', 0, 0, 1024 * 1024),
    browserRecycleHours: env.int('BROWSER_RECYCLE_HOURS', 0, 0, 24 * 365),
    webhooks: readWebhookSettings(env),
    eventStreamRetentionMs: env.int('EVENT_STREAM_RETENTION_MS', 3600000, 1000, 30 * 86400000),
    metricsPort: env.int('WORKER_METRICS_PORT', 9464, 0, 65535),
    metricsHost: env.string('WORKER_METRICS_HOST', '0.0.0.0'),
    metricsApiKey: readMetricsApiKey(env),
    logLevel: env.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], 'info'),
  };
}
