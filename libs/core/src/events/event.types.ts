/** What the system tells its integrators (webhooks, the live stream): the contract's "Events out". */
export const EVENT_TYPES = ['message.status', 'message.received', 'session.status'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * One event. `id` is fixed when the fact is recorded and never changes: every delivery of the
 * event (retries, replays, resumed streams, other gateway replicas) carries the same one.
 */
export interface GatewayEvent<T = unknown> {
  id: string;
  type: EventType;
  session: string;
  timestamp: string;
  data: T;
}

/** `message.status`: one status change of one message (the first is `queued`). */
export interface MessageStatusEventData {
  messageId: string;
  status: string;
  /** null for `queued`, the message's first status. */
  previous: string | null;
  to?: string;
  waMessageId?: string;
  error?: { code: string; message: string };
}

/** `session.status`: the session's status changed. */
export interface SessionStatusEventData {
  status: string;
  previous: string;
  lastError: { code: string; message: string; at: string } | null;
  worker: string | null;
}

/** `message.received`: an incoming WhatsApp message (media as metadata only). */
export interface MessageReceivedEventData {
  waMessageId: string;
  from: string;
  chatId: string;
  /** Sender's display name when WhatsApp gives one. */
  author?: string | null;
  text: string | null;
  type: string;
  media: { mimetype: string; filename?: string | null; size?: number | null } | null;
  /** When WhatsApp says it was sent (RFC 3339). */
  sentAt: string;
  isGroup: boolean;
}
