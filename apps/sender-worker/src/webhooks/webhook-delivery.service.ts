import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LOGGER, REDIS, RedisKeys } from '@app/core';
import {
  WebhookDeadLetterStore,
  webhookEndpointKey,
  type WebhookAttempt,
  type WebhookJob,
} from '@app/queue';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { WebhookEndpoints } from './webhook-endpoints';
import { postWebhook, type PostResult } from './webhook-poster';
import { RETRY_AFTER_STATUSES } from './retry-schedule';
import { webhookHeaders } from './webhook-signature';
import { webhookMetrics } from './webhook.metrics';

/** How long a 2xx is remembered, so no later run of the same job posts it again. */
export const DELIVERED_MARKER_TTL_SECONDS = 6 * 3600;

/** One run of a delivery job, as the service needs it (BullMQ's Job fits; tests pass their own). */
export interface DeliveryRun {
  /**
   * The job id. It names the delivered marker: the original delivery's id is its delivery id, a
   * replay's is `<delivery id>.r<n>`, so a replay is neither blocked by nor blocks anything but
   * itself, and every run of one job (retries, a stalled run taken over) shares one marker.
   */
  id: string;
  data: WebhookJob;
  /** Failed attempts before this run (0 on the first). */
  attemptsMade: number;
  /** Attempts the job may use in all. */
  maxAttempts: number;
  /** Keeps the attempts so far on the job (Bull Board shows them; the dead letter lists them). */
  saveAttempts(attempts: WebhookAttempt[]): Promise<void>;
}

/** What a run came to; the processor turns it into BullMQ's terms. */
export type DeliveryOutcome =
  | { kind: 'delivered'; status: number }
  /** An earlier run got a 2xx: nothing is posted again. */
  | { kind: 'already-delivered' }
  /** The endpoint is no longer configured (session or webhook removed, WEBHOOK_URL unset). */
  | { kind: 'dropped' }
  /** Dead-lettered: no more attempts (410, a disabled endpoint, a refused address, the last). */
  | { kind: 'dead'; code: string; message: string }
  /** This attempt failed; try again after the backoff (`retryAfterMs` from the receiver). */
  | { kind: 'retry'; error: string; retryAfterMs: number | null };

/**
 * Delivers one event to one endpoint, once: the delivered marker (set after a 2xx) keeps a
 * retry or a taken-over run from posting what was already accepted; only an attempt whose answer
 * never arrived (a worker killed mid-request, a timeout after the receiver took it) can repeat,
 * and always with the same `webhook-id`. Failed attempts are recorded on the job; the last one,
 * a 410 (the endpoint is then disabled), a disabled endpoint or a refused address end in a dead
 * letter, written before the job fails.
 */
@Injectable()
export class WebhookDeliveryService {
  private readonly logger: Logger;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly endpoints: WebhookEndpoints,
    private readonly deadLetters: WebhookDeadLetterStore,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ component: 'webhooks' });
  }

  async deliver(run: DeliveryRun): Promise<DeliveryOutcome> {
    const { event, endpoint, deliveryId } = run.data;
    const log = this.logger.child({
      sessionId: event.session,
      eventId: event.id,
      deliveryId,
      jobId: run.id,
      endpoint: endpoint.kind,
    });
    const marker = this.keys.webhookDelivered(run.id);
    if (await this.redis.exists(marker)) return { kind: 'already-delivered' };

    const attempts = run.data.attempts ?? [];
    const endpointKey = webhookEndpointKey(endpoint.kind, event.session);
    if (await this.redis.hexists(this.keys.webhookDisabled(), endpointKey)) {
      return this.giveUp(run, attempts, log, {
        code: 'ENDPOINT_DISABLED',
        message: `The endpoint (${endpointKey}) answered 410 Gone earlier and is disabled; replay to enable it again`,
      });
    }
    const target = await this.endpoints.targetOf(endpoint.kind, event.session);
    if (!target) {
      log.info('webhook endpoint no longer configured: delivery dropped');
      return { kind: 'dropped' };
    }

    const body = JSON.stringify(event);
    const headers = webhookHeaders(target.secret, event.id, new Date(), body);
    const result = await postWebhook(target.url, body, headers, {
      timeoutMs: this.config.webhooks.timeoutMs,
      allowPrivate: this.config.webhooks.allowPrivate,
    });
    const attempt = attemptOf(result);
    const status = result.kind === 'answered' ? result.status : null;

    if (status !== null && status >= 200 && status < 300) {
      // The answer is in: the job completes whatever happens to the marker. Failing the job
      // here would post the event again although the endpoint took it; the marker only
      // guards a re-run after a crash, so a blip costs that guard, not a repeat.
      const marked = await withRetries(() =>
        this.redis.set(marker, '1', 'EX', DELIVERED_MARKER_TTL_SECONDS),
      );
      if (!marked) log.warn('webhook delivered, but its delivered marker could not be stored');
      log.info({ status, durationMs: result.durationMs }, 'webhook delivered');
      webhookMetrics.delivered(endpoint.kind, event.timestamp);
      return { kind: 'delivered', status };
    }
    const all = [...attempts, attempt];
    if (result.kind === 'refused') {
      return this.giveUp(run, all, log, { code: 'ADDRESS_FORBIDDEN', message: result.error });
    }
    if (status === 410) {
      await this.redis.hset(this.keys.webhookDisabled(), endpointKey, new Date().toISOString());
      return this.giveUp(run, all, log, {
        code: 'ENDPOINT_GONE',
        message: `The endpoint answered 410 Gone: ${endpointKey} is disabled until a replay`,
      });
    }
    if (run.attemptsMade + 1 >= run.maxAttempts) {
      return this.giveUp(run, all, log, {
        code: 'RETRIES_EXHAUSTED',
        message: `No 2xx after ${all.length} attempts (last: ${attempt.error})`,
      });
    }
    await run.saveAttempts(all);
    webhookMetrics.failedAttempt(endpoint.kind);
    log.warn(
      { status, error: attempt.error, durationMs: attempt.durationMs, attempt: all.length },
      'webhook attempt failed: will retry',
    );
    const retryAfterMs =
      result.kind === 'answered' && RETRY_AFTER_STATUSES.has(result.status)
        ? result.retryAfterMs
        : null;
    return { kind: 'retry', error: attempt.error ?? 'failed', retryAfterMs };
  }

  /** Writes the dead letter (before the job fails, so a crash in between re-runs, not loses). */
  private async giveUp(
    run: DeliveryRun,
    attempts: WebhookAttempt[],
    log: Logger,
    reason: { code: string; message: string },
  ): Promise<DeliveryOutcome> {
    const { deliveryId, event, endpoint } = run.data;
    await run.saveAttempts(attempts);
    await this.deadLetters.add({
      id: deliveryId,
      session: event.session,
      event,
      endpoint,
      attempts,
      reason,
      deadAt: new Date().toISOString(),
    });
    log.warn({ code: reason.code, attempts: attempts.length }, 'webhook dead-lettered');
    webhookMetrics.deadLettered(endpoint.kind);
    return { kind: 'dead', ...reason };
  }
}

function attemptOf(result: PostResult): WebhookAttempt {
  const at = new Date(Date.now() - result.durationMs).toISOString();
  if (result.kind === 'answered') {
    const ok = result.status >= 200 && result.status < 300;
    const error = ok
      ? null
      : result.status >= 300 && result.status < 400
        ? `answered ${result.status} (redirects are not followed)`
        : `answered ${result.status}`;
    return { at, status: result.status, error, durationMs: result.durationMs };
  }
  return { at, status: null, error: result.error, durationMs: result.durationMs };
}

/** Runs a Redis write up to three times, 100 ms apart; false when every try failed. */
async function withRetries(write: () => Promise<unknown>): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return true;
    } catch {
      if (attempt >= 3) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
