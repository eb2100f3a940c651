import type { MessagePriority } from './queue.constants';

/** Media as the API accepts it: a URL to fetch, or inline base64 with its mimetype. */
export interface MediaContent {
  url?: string;
  base64?: string;
  mimetype?: string;
  filename?: string;
  caption?: string;
}

/** What a message says. At least one of `text` and `media` is set. */
export interface MessageContent {
  text?: string;
  media?: MediaContent;
  /** WhatsApp id of the message this one quotes. */
  replyTo?: string;
}

/**
 * Payload of a {@link JobName.SendMessage} job. It carries everything needed to send, so a
 * worker never depends on anything else being in Redis to do its job.
 */
export interface SendMessageJob {
  messageId: string;
  sessionId: string;
  /** Normalised WhatsApp chat id: `<digits>@c.us` or `<id>@g.us`. */
  chatId: string;
  content: MessageContent;
  /** SHA-256 of the content, used to recognise the message among sent ones (reconciliation). */
  contentHash: string;
  priority: MessagePriority;
  createdAt: string;
  sendAt?: string;
  expiresAt?: string;
  /**
   * Written by producers from SEND_JOB_VERSION on. Version 2 records live until their message
   * is final, so a job of that version without a record was removed on purpose; older jobs'
   * records expired from creation and may be gone while the job waits.
   */
  version?: number;
}

/** See {@link SendMessageJob.version}. */
export const SEND_JOB_VERSION = 2;

export type MessageStatus =
  'queued' | 'sending' | 'sent' | 'delivered' | 'read' | 'failed' | 'cancelled' | 'expired';

/** Statuses after which nothing will ever be sent for the message. */
export const FINAL_STATUSES: readonly MessageStatus[] = [
  'sent',
  'delivered',
  'read',
  'failed',
  'cancelled',
  'expired',
];

export interface MessageError {
  code: string;
  message: string;
}

/** A message as the API shows it (`GET /api/messages/:id`). */
export interface MessageRecord {
  id: string;
  session: string;
  to: string;
  status: MessageStatus;
  attempts: number;
  waMessageId: string | null;
  error: MessageError | null;
  priority: MessagePriority;
  createdAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  readAt: string | null;
  sendAt: string | null;
  expiresAt: string | null;
  updatedAt: string;
  history: MessageHistoryEntry[];
}

export interface MessageHistoryEntry {
  status: MessageStatus;
  at: string;
  error?: MessageError;
}
