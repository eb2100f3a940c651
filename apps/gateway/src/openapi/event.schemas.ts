import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type {
  MessageReceivedEventData,
  MessageStatusEventData,
  SessionStatusEventData,
} from '@app/core';
import type { MessageStatus } from '@app/queue';
import { SESSION_STATUSES } from '@app/session';

/**
 * The events the gateway sends (webhooks, the live stream), as schemas: the shapes of
 * `libs/core/src/events/event.types.ts`. Each class `implements` its interface, so a field
 * added there and not here does not compile.
 */

/** Every message status, with what it means (a Record: a status added to the type must be here). */
export const MESSAGE_STATUS_MEANINGS: Record<MessageStatus, string> = {
  queued: 'accepted and stored; waiting for its turn (or its `sendAt`)',
  sending: 'handed to WhatsApp right now',
  sent: 'WhatsApp accepted it (one tick)',
  delivered: "on the recipient's phone (two ticks)",
  read: 'read by the recipient (blue ticks; only when they share read receipts)',
  failed: 'will not be sent; `error` says why',
  cancelled: 'cancelled before it was sent (DELETE, clear-queue, session deleted)',
  expired: 'its `expiresAt` passed before it could be sent',
};
export const MESSAGE_STATUSES = Object.keys(MESSAGE_STATUS_MEANINGS) as MessageStatus[];

export const EXAMPLE_EVENT_ID = 'evt_3b0d1c6e-8f61-4a55-9d38-4a3c1f0e2b7a';
export const EXAMPLE_MESSAGE_ID = 'msg_0f9c2b6e4d1a4f0e9b7c3a2d1e0f4c5b';
export const EXAMPLE_WA_MESSAGE_ID = 'true_15551234567@c.us_3EB0C767D26A1D5C9F21';

export class EventError {
  @ApiProperty({ example: 'NOT_ON_WHATSAPP' })
  code!: string;

  @ApiProperty({ example: '15551234567 is not on WhatsApp' })
  message!: string;
}

export class SessionEventError extends EventError {
  @ApiProperty({ format: 'date-time', example: '2026-05-01T10:00:00.000Z' })
  at!: string;
}

/** What every event carries besides `type` and `data`. */
abstract class EventEnvelope {
  @ApiProperty({
    description:
      'Fixed when the fact is recorded: the same on every retry, replay and resumed stream (the `webhook-id` header). Drop an id you have seen.',
    example: EXAMPLE_EVENT_ID,
  })
  id!: string;

  @ApiProperty({ description: 'The session (WhatsApp account) it happened on', example: 'sales' })
  session!: string;

  @ApiProperty({
    format: 'date-time',
    description: 'When the fact was recorded (RFC 3339, UTC)',
    example: '2026-05-01T10:00:00.000Z',
  })
  timestamp!: string;
}

export class MessageStatusData implements MessageStatusEventData {
  @ApiProperty({ example: EXAMPLE_MESSAGE_ID })
  messageId!: string;

  @ApiProperty({
    enum: MESSAGE_STATUSES,
    description: Object.entries(MESSAGE_STATUS_MEANINGS)
      .map(([s, m]) => `\`${s}\`: ${m}`)
      .join('; '),
    example: 'delivered',
  })
  status!: string;

  @ApiProperty({
    enum: MESSAGE_STATUSES,
    nullable: true,
    description: 'The status before; null for `queued`, the first',
    example: 'sent',
  })
  previous!: string | null;

  @ApiPropertyOptional({ description: 'The chat id it goes to', example: '15551234567@c.us' })
  to?: string;

  @ApiPropertyOptional({
    description: "WhatsApp's id, once sent",
    example: EXAMPLE_WA_MESSAGE_ID,
  })
  waMessageId?: string;

  @ApiPropertyOptional({ type: () => EventError, description: 'Why, for `failed`' })
  error?: EventError;
}

export class SessionStatusData implements SessionStatusEventData {
  @ApiProperty({ enum: SESSION_STATUSES, example: 'recovering' })
  status!: string;

  @ApiProperty({ enum: SESSION_STATUSES, example: 'ready' })
  previous!: string;

  @ApiProperty({
    type: () => SessionEventError,
    nullable: true,
    description: 'The latest failure of the session, in words a person can act on',
  })
  lastError!: SessionEventError | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The worker that owns the session; null when none does',
    example: 'worker-a',
  })
  worker!: string | null;
}

export class ReceivedMedia {
  @ApiProperty({ example: 'image/jpeg' })
  mimetype!: string;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'photo.jpg' })
  filename?: string | null;

  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Bytes', example: 48213 })
  size?: number | null;
}

export class MessageReceivedData implements MessageReceivedEventData {
  @ApiProperty({ example: 'false_15557654321@c.us_3EB0A1B2C3D4E5F60718' })
  waMessageId!: string;

  @ApiProperty({ description: 'The sender (chat id)', example: '15557654321@c.us' })
  from!: string;

  @ApiProperty({
    description: 'The chat it arrived in (a group for group messages)',
    example: '15557654321@c.us',
  })
  chatId!: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    description: "Sender's display name when WhatsApp gives one",
    example: 'Ana',
  })
  author?: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Text or caption', example: 'Hi!' })
  text!: string | null;

  @ApiProperty({ description: "WhatsApp's message type", example: 'chat' })
  type!: string;

  @ApiProperty({
    type: () => ReceivedMedia,
    nullable: true,
    description: 'Metadata only: the bytes are not downloaded by default',
  })
  media!: ReceivedMedia | null;

  @ApiProperty({
    format: 'date-time',
    description: 'When WhatsApp says it was sent',
    example: '2026-05-01T09:59:58.000Z',
  })
  sentAt!: string;

  @ApiProperty({ example: false })
  isGroup!: boolean;
}

export class MessageStatusEvent extends EventEnvelope {
  @ApiProperty({ enum: ['message.status'], example: 'message.status' })
  type!: 'message.status';

  @ApiProperty({ type: () => MessageStatusData })
  data!: MessageStatusData;
}

export class MessageReceivedEvent extends EventEnvelope {
  @ApiProperty({ enum: ['message.received'], example: 'message.received' })
  type!: 'message.received';

  @ApiProperty({ type: () => MessageReceivedData })
  data!: MessageReceivedData;
}

export class SessionStatusEvent extends EventEnvelope {
  @ApiProperty({ enum: ['session.status'], example: 'session.status' })
  type!: 'session.status';

  @ApiProperty({ type: () => SessionStatusData })
  data!: SessionStatusData;
}

/** The schemas the document must hold even where no route returns them (webhooks, streams). */
export const EVENT_MODELS = [MessageStatusEvent, MessageReceivedEvent, SessionStatusEvent];
