import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  EXAMPLE_MESSAGE_ID,
  EXAMPLE_WA_MESSAGE_ID,
  EventError,
  MESSAGE_STATUSES,
} from '../openapi/event.schemas';

/** The answers of the messages routes, as the OpenAPI document shows them. */

export class MessageAccepted {
  @ApiProperty({ example: EXAMPLE_MESSAGE_ID })
  id!: string;

  @ApiProperty({ enum: ['queued'], example: 'queued' })
  status!: 'queued';
}

export class BulkAccepted {
  @ApiProperty({
    type: [String],
    description: 'One id per message, in the order given',
    example: [EXAMPLE_MESSAGE_ID, 'msg_5a7e0c1d2b3f4e6a8c9d0e1f2a3b4c5d'],
  })
  ids!: string[];

  @ApiProperty({ enum: ['queued'], example: 'queued' })
  status!: 'queued';
}

export class MessageHistoryEntry {
  @ApiProperty({ enum: MESSAGE_STATUSES, example: 'sent' })
  status!: string;

  @ApiProperty({ format: 'date-time', example: '2026-05-01T10:00:01.250Z' })
  at!: string;

  @ApiPropertyOptional({ type: () => EventError })
  error?: EventError;
}

const NULLABLE_TIME = { type: String, format: 'date-time', nullable: true } as const;

export class Message {
  @ApiProperty({ example: EXAMPLE_MESSAGE_ID })
  id!: string;

  @ApiProperty({ example: 'sales' })
  session!: string;

  @ApiProperty({ description: 'The chat id it goes to', example: '15551234567@c.us' })
  to!: string;

  @ApiProperty({ enum: MESSAGE_STATUSES, example: 'delivered' })
  status!: string;

  @ApiProperty({
    description: 'Send attempts used (a session failure uses none)',
    minimum: 0,
    example: 1,
  })
  attempts!: number;

  @ApiProperty({ type: String, nullable: true, example: EXAMPLE_WA_MESSAGE_ID })
  waMessageId!: string | null;

  @ApiProperty({
    type: () => EventError,
    nullable: true,
    description: 'Why it failed (null unless `failed`)',
  })
  error!: EventError | null;

  @ApiProperty({ format: 'date-time', example: '2026-05-01T10:00:00.120Z' })
  createdAt!: string;

  @ApiProperty({ ...NULLABLE_TIME, example: '2026-05-01T10:00:01.250Z' })
  sentAt!: string | null;

  @ApiProperty({ ...NULLABLE_TIME, example: '2026-05-01T10:00:02.310Z' })
  deliveredAt!: string | null;

  @ApiProperty({ ...NULLABLE_TIME, example: null })
  readAt!: string | null;

  @ApiProperty({ ...NULLABLE_TIME, example: null })
  sendAt!: string | null;

  @ApiProperty({ ...NULLABLE_TIME, example: null })
  expiresAt!: string | null;

  @ApiProperty({ enum: ['high', 'normal', 'low'], example: 'normal' })
  priority!: string;

  @ApiProperty({
    type: () => [MessageHistoryEntry],
    description: 'Every status it had, oldest first',
  })
  history!: MessageHistoryEntry[];
}

export class MessageCancelled {
  @ApiProperty({ example: EXAMPLE_MESSAGE_ID })
  id!: string;

  @ApiProperty({ enum: ['cancelled'], example: 'cancelled' })
  status!: 'cancelled';
}
