import type { GatewayEvent } from '@app/core';

/**
 * The webhook delivery queue (one BullMQ job per event and endpoint). As with the maintenance
 * queue, the whole name is its Redis Cluster hash tag and the leading `_` keeps it apart from
 * every session's tag. RENAMING IT STRANDS QUEUED DELIVERIES.
 */
export const WEBHOOKS_QUEUE = '{_webhooks}';

export enum WebhookJobName {
  /** POST one event to one endpoint. Payload: {@link WebhookJob}. */
  Deliver = 'deliver',
}

/**
 * Which endpoint a delivery goes to: the session's own webhook, or the deployment-wide one
 * (WEBHOOK_URL). The secret is never in the job (Bull Board shows job data): the delivering
 * process reads it at delivery time, from the session record or its own configuration.
 */
export type WebhookEndpointKind = 'session' | 'global';

export interface WebhookEndpoint {
  kind: WebhookEndpointKind;
  url: string;
}

/** A delivery job's payload. */
export interface WebhookJob {
  /** `<event id>.<endpoint kind>`: the job id, the dead letter's id, the delivered marker's. */
  deliveryId: string;
  event: GatewayEvent;
  /** Where it goes, for a person (Bull Board); without query string or credentials. */
  endpoint: WebhookEndpoint;
  /** The attempts made so far (the delivering worker records each failed one on the job). */
  attempts?: WebhookAttempt[];
}

/** The delivery id (job id) of an event for one endpoint: stable, so a re-route is a no-op. */
export function deliveryIdOf(eventId: string, kind: WebhookEndpointKind): string {
  return `${eventId}.${kind}`;
}

/** One delivery attempt as a dead letter keeps it. */
export interface WebhookAttempt {
  at: string;
  /** HTTP status answered; null when no answer came (network error, timeout). */
  status: number | null;
  /** What went wrong, for a person (`null` for a 2xx). Never the body the receiver sent. */
  error: string | null;
  durationMs: number;
}

/** A delivery given up on: kept, listed and replayable (`/api/webhooks/dead-letters`). */
export interface WebhookDeadLetter {
  /** The delivery id. */
  id: string;
  session: string;
  event: GatewayEvent;
  endpoint: WebhookEndpoint;
  attempts: WebhookAttempt[];
  /** Why it was given up: RETRIES_EXHAUSTED, ENDPOINT_GONE (410), ENDPOINT_DISABLED, … */
  reason: { code: string; message: string };
  deadAt: string;
  /** How often it was replayed (each replay's job id is `<id>.r<n>`). */
  replays: number;
}
