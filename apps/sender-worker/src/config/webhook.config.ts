import { ConfigError, EVENT_TYPES, refuseUrlHost, type EnvReader, type EventType } from '@app/core';
import { readWebhookRetrySchedule } from '@app/queue';

/** The deployment-wide endpoint (WEBHOOK_URL): every session's events, besides its own webhook. */
export interface GlobalWebhook {
  url: string;
  /** WEBHOOK_SECRET: `whsec_` + base64 of 24–64 random bytes. */
  secret: string;
  /** WEBHOOK_EVENTS: the event types it receives; null = all. */
  events: EventType[] | null;
}

/** How this worker routes and delivers webhooks. */
export interface WebhookSettings {
  global: GlobalWebhook | null;
  /** WEBHOOK_ALLOW_PRIVATE: deliver to loopback and private addresses (tests, one host). */
  allowPrivate: boolean;
  /** WEBHOOK_TIMEOUT_MS: an endpoint that has not answered by then failed this attempt. */
  timeoutMs: number;
  /** WEBHOOK_RETRY_SCHEDULE_MS: delays between attempts; attempts = its length + 1. */
  retryScheduleMs: number[];
  /** WEBHOOK_CONCURRENCY: deliveries in flight per worker. */
  concurrency: number;
  /**
   * WEBHOOK_LOCK_MS: a delivery whose worker stopped renewing its lock for this long (a
   * SIGKILL, a frozen process) is taken over by another worker.
   */
  lockMs: number;
}

/** Standard Webhooks secrets: `whsec_` and the base64 of the key (24–64 bytes here). */
const SECRET_PATTERN = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

export function readWebhookSettings(env: EnvReader): WebhookSettings {
  const allowPrivate = env.bool('WEBHOOK_ALLOW_PRIVATE', false);
  return {
    global: readGlobalWebhook(env, allowPrivate),
    allowPrivate,
    timeoutMs: env.int('WEBHOOK_TIMEOUT_MS', 15000, 100, 300000),
    retryScheduleMs: readWebhookRetrySchedule(env),
    concurrency: env.int('WEBHOOK_CONCURRENCY', 16, 1, 1000),
    lockMs: env.int('WEBHOOK_LOCK_MS', 30000, 1000, 600000),
  };
}

function readGlobalWebhook(env: EnvReader, allowPrivate: boolean): GlobalWebhook | null {
  const raw = env.optionalString('WEBHOOK_URL');
  const secret = env.optionalString('WEBHOOK_SECRET');
  const events = readEvents(env);
  if (raw === undefined) {
    if (secret !== undefined) throw new ConfigError('WEBHOOK_SECRET', 'is set without WEBHOOK_URL');
    return null;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('WEBHOOK_URL', 'must be an http or https URL');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new ConfigError('WEBHOOK_URL', 'must be an http or https URL');
  }
  const refusal = refuseUrlHost(url, allowPrivate);
  if (refusal) {
    throw new ConfigError(
      'WEBHOOK_URL',
      `is not allowed: ${refusal} (set WEBHOOK_ALLOW_PRIVATE=true for tests or single-host setups)`,
    );
  }
  if (secret === undefined) throw new ConfigError('WEBHOOK_SECRET', 'is required with WEBHOOK_URL');
  checkSecret(secret);
  return { url: raw, secret, events };
}

/** Never echoes the value: it is a secret. */
function checkSecret(secret: string): void {
  const m = SECRET_PATTERN.exec(secret);
  const bytes = m ? Buffer.from(m[1], 'base64') : null;
  // Round trip: Node's decoder skips characters it does not know instead of refusing them.
  if (!m || !bytes || bytes.toString('base64').replace(/=+$/, '') !== m[1].replace(/=+$/, '')) {
    throw new ConfigError('WEBHOOK_SECRET', 'must be "whsec_" followed by base64');
  }
  if (bytes.length < 24 || bytes.length > 64) {
    throw new ConfigError(
      'WEBHOOK_SECRET',
      `must encode 24 to 64 bytes after "whsec_", got ${bytes.length}`,
    );
  }
}

function readEvents(env: EnvReader): EventType[] | null {
  const list = env.list('WEBHOOK_EVENTS');
  if (list.length === 0) return null;
  for (const type of list) {
    if (!(EVENT_TYPES as readonly string[]).includes(type)) {
      throw new ConfigError(
        'WEBHOOK_EVENTS',
        `must list event types among ${EVENT_TYPES.join(', ')}, got "${type}"`,
      );
    }
  }
  return list as EventType[];
}
