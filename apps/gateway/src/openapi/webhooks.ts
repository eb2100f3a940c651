import { getSchemaPath, type ParameterObject, type PathItemObject } from '@nestjs/swagger';
import type { EventType } from '@app/core';
import {
  EXAMPLE_EVENT_ID,
  EXAMPLE_MESSAGE_ID,
  EXAMPLE_WA_MESSAGE_ID,
  MessageReceivedEvent,
  MessageStatusEvent,
  SessionStatusEvent,
} from './event.schemas';

/** The Standard Webhooks headers every delivery carries. */
const SIGNATURE_HEADERS: ParameterObject[] = [
  {
    name: 'webhook-id',
    in: 'header',
    required: true,
    description:
      "The event's `id`: the same on every retry and replay. Keep the ids you processed and drop a repeat.",
    schema: { type: 'string' },
    example: EXAMPLE_EVENT_ID,
  },
  {
    name: 'webhook-timestamp',
    in: 'header',
    required: true,
    description:
      'When this attempt was signed, in Unix seconds. Refuse one far from your clock (5 minutes) to stop replays of a captured request.',
    schema: { type: 'string', pattern: '^[0-9]+$' },
    example: '1777629600',
  },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description:
      'Space-separated `v1,<base64>` signatures: HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<raw body>` keyed with the base64-decoded part of the secret after `whsec_`. Compare in constant time; any one matching is enough (several appear while a secret is rotated). See README "Receiving events".',
    schema: { type: 'string' },
    example: 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
  },
];

const ANSWERS = {
  '2XX': {
    description:
      'Received. Answer quickly (within `WEBHOOK_TIMEOUT_MS`, 15 s by default) and do the work afterwards; the body is ignored.',
  },
  '410': {
    description:
      'Gone: the endpoint is disabled and nothing more is sent to it. Events meant for it are dead-lettered (`GET /api/webhooks/dead-letters`) and can be replayed once it is back.',
  },
  default: {
    description:
      'Any other answer (3xx included: redirects are not followed), a network error or no answer within `WEBHOOK_TIMEOUT_MS`: retried with exponential backoff and jitter for at least 24 h (`Retry-After` is honoured on 429 and 503), then dead-lettered. Deliveries are not ordered: use `timestamp` (and for messages `data.status`) to order.',
  },
};

interface WebhookDoc {
  type: EventType;
  model: new () => object;
  summary: string;
  description: string;
  example: object;
}

const WEBHOOKS: WebhookDoc[] = [
  {
    type: 'message.status',
    model: MessageStatusEvent,
    summary: 'A message changed status',
    description:
      'Every status change of every message, from `queued` to `sent`, `delivered`, `read`, or `failed`, `cancelled`, `expired` (acks included).',
    example: {
      id: EXAMPLE_EVENT_ID,
      type: 'message.status',
      session: 'sales',
      timestamp: '2026-05-01T10:00:02.310Z',
      data: {
        messageId: EXAMPLE_MESSAGE_ID,
        status: 'delivered',
        previous: 'sent',
        to: '15551234567@c.us',
        waMessageId: EXAMPLE_WA_MESSAGE_ID,
      },
    },
  },
  {
    type: 'message.received',
    model: MessageReceivedEvent,
    summary: 'A message came in',
    description:
      'An incoming WhatsApp message: text, sender, chat, WhatsApp id, time, and media as metadata only.',
    example: {
      id: 'evt_7d4b2e91-0c3a-4f6e-8b15-2a9c6d3e1f08',
      type: 'message.received',
      session: 'sales',
      timestamp: '2026-05-01T10:00:00.120Z',
      data: {
        waMessageId: 'false_15557654321@c.us_3EB0A1B2C3D4E5F60718',
        from: '15557654321@c.us',
        chatId: '15557654321@c.us',
        author: 'Ana',
        text: 'Hi!',
        type: 'chat',
        media: null,
        sentAt: '2026-05-01T09:59:58.000Z',
        isGroup: false,
      },
    },
  },
  {
    type: 'session.status',
    model: SessionStatusEvent,
    summary: 'A session changed status',
    description:
      'Every status change of a session (`starting`, `qr`, `authenticating`, `ready`, `recovering`, `disconnected`, `logged_out`, `failed`, `stopped`), with `lastError` saying why it is not `ready`.',
    example: {
      id: 'evt_9a1e5c3f-2b47-4d8e-a6f0-1c2d3e4f5a6b',
      type: 'session.status',
      session: 'sales',
      timestamp: '2026-05-01T10:05:00.000Z',
      data: {
        status: 'recovering',
        previous: 'ready',
        lastError: {
          code: 'BROWSER_CRASHED',
          message: 'The browser of this session crashed; restarting it',
          at: '2026-05-01T10:05:00.000Z',
        },
        worker: 'worker-a',
      },
    },
  },
];

/**
 * The OpenAPI 3.1 `webhooks` section: what the gateway POSTs to a session's `webhook.url` (and
 * to `WEBHOOK_URL`), one entry per event type, with its signature headers and the answers the
 * receiver should give.
 */
export function webhookPathItems(): Record<string, PathItemObject> {
  return Object.fromEntries(
    WEBHOOKS.map((w) => [
      w.type,
      {
        post: {
          operationId: `webhook${w.model.name}`,
          tags: ['Events'],
          summary: w.summary,
          description: `${w.description}\n\nSent as \`POST\` with \`Content-Type: application/json\` to the session's \`webhook.url\` (if its \`webhook.events\` includes \`${w.type}\`) and to \`WEBHOOK_URL\`. The same events come as Server-Sent Events from \`GET /api/events\`.`,
          parameters: SIGNATURE_HEADERS,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { $ref: getSchemaPath(w.model) },
                examples: { [w.type]: { summary: w.summary, value: w.example } },
              },
            },
          },
          responses: ANSWERS,
          security: [],
        },
      },
    ]),
  );
}
