import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { DRIVER_NAMES, FAULT_TYPES, SESSION_STATUSES } from '@app/session';
import {
  EXAMPLE_MESSAGE_ID,
  EXAMPLE_WA_MESSAGE_ID,
  EventError,
  SessionEventError,
} from '../openapi/event.schemas';
import { RateLimitDto, SimulatorOptionsDto } from './session.dto';

/** The answers of the sessions routes, as the OpenAPI document shows them (`session-view.ts`). */

export class SessionHealth {
  @ApiProperty({ example: true })
  healthy!: boolean;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: '2026-05-01T10:00:00.000Z',
  })
  lastCheckAt!: string | null;

  @ApiProperty({ description: 'Recoveries since it was created', minimum: 0, example: 0 })
  recoveries!: number;
}

export class QueueCounts {
  @ApiProperty({ minimum: 0, example: 3 })
  waiting!: number;

  @ApiProperty({ minimum: 0, example: 1 })
  active!: number;

  @ApiProperty({ minimum: 0, description: 'Scheduled (`sendAt`) or pacing', example: 0 })
  delayed!: number;

  @ApiProperty({ minimum: 0, example: 0 })
  failed!: number;

  @ApiProperty({ minimum: 0, example: 120 })
  completed!: number;

  @ApiProperty({
    description: 'True exactly while the session cannot send (not `ready`): messages still queue',
    example: false,
  })
  paused!: boolean;
}

export class SessionWebhookInfo {
  @ApiProperty({ example: 'https://crm.example.com/hooks/whatsapp' })
  url!: string;

  @ApiProperty({
    type: [String],
    nullable: true,
    description: 'Event types sent; null = all',
    example: null,
  })
  events!: string[] | null;

  @ApiProperty({
    description: 'Whether deliveries are signed (the secret is never shown)',
    example: true,
  })
  signed!: boolean;
}

export class Session {
  @ApiProperty({ example: 'sales' })
  id!: string;

  @ApiProperty({ enum: DRIVER_NAMES, example: 'simulator' })
  driver!: string;

  @ApiProperty({
    enum: SESSION_STATUSES,
    description: 'A session no live worker owns is `starting` with `worker: null`',
    example: 'ready',
  })
  status!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The linked account',
    example: '15550000000',
  })
  phone!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The owning worker',
    example: 'worker-a',
  })
  worker!: string | null;

  @ApiProperty({ type: () => SessionHealth })
  health!: SessionHealth;

  @ApiProperty({
    type: () => SessionEventError,
    nullable: true,
    description: 'The latest failure (why it is not `ready`), in words a person can act on',
  })
  lastError!: SessionEventError | null;

  @ApiProperty({ example: false })
  restartInProgress!: boolean;

  @ApiProperty({
    type: Number,
    nullable: true,
    description: "Memory of the session's browser at the last probe (MB)",
    example: null,
  })
  memoryMb!: number | null;

  @ApiProperty({ type: () => QueueCounts })
  queue!: QueueCounts;

  @ApiProperty({ type: () => RateLimitDto })
  rateLimit!: RateLimitDto;

  @ApiProperty({ type: () => SessionWebhookInfo, nullable: true })
  webhook!: SessionWebhookInfo | null;

  @ApiProperty({
    type: () => SimulatorOptionsDto,
    nullable: true,
    description: 'The simulator options with their defaults filled in; null for other drivers',
  })
  simulator!: SimulatorOptionsDto | null;

  @ApiProperty({ format: 'date-time', example: '2026-05-01T09:00:00.000Z' })
  createdAt!: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: '2026-05-01T09:00:01.000Z',
  })
  updatedAt!: string | null;
}

export class SessionList {
  @ApiProperty({ type: () => [Session] })
  sessions!: Session[];
}

export class QrCode {
  @ApiProperty({
    description:
      'The QR payload: render it as a QR code and scan it with WhatsApp (Linked devices)',
    example: '2@Gx7kX0cQ9nL0oYb3v2…',
  })
  qr!: string;
}

export class RecoverAccepted {
  @ApiProperty({ example: 'sales' })
  id!: string;

  @ApiProperty({ enum: [true], example: true })
  recovering!: true;
}

export class SessionRemoved {
  @ApiProperty({ example: 'sales' })
  id!: string;

  @ApiProperty({ enum: ['stopped'], example: 'stopped' })
  status!: 'stopped';

  @ApiProperty({ description: 'Unsent messages now `cancelled`', minimum: 0, example: 2 })
  cancelledMessages!: number;

  @ApiPropertyOptional({
    description: 'With `logout=true`: whether the device was unlinked',
    example: true,
  })
  loggedOut?: boolean;

  @ApiPropertyOptional({
    type: () => EventError,
    description: 'With `logout=true` and `loggedOut: false`: why not, and what to do',
  })
  reason?: EventError;
}

export class PairingCode {
  @ApiProperty({
    description: 'Enter it on the phone: WhatsApp → Linked devices → Link with phone number',
    example: 'ABCD-1234',
  })
  code!: string;
}

export class ContactCheck {
  @ApiProperty({ example: '15551234567' })
  phone!: string;

  @ApiProperty({ description: "WhatsApp's chat id for the number", example: '15551234567@c.us' })
  chatId!: string;

  @ApiProperty({ example: true })
  onWhatsApp!: boolean;
}

export class SimulatorOutboxEntry {
  @ApiProperty({ description: "The gateway's message id", example: EXAMPLE_MESSAGE_ID })
  messageId!: string;

  @ApiProperty({ example: EXAMPLE_WA_MESSAGE_ID })
  waMessageId!: string;

  @ApiProperty({ example: '15551234567@c.us' })
  to!: string;

  @ApiProperty({ example: 'Your order shipped' })
  text!: string;

  @ApiProperty({ format: 'date-time', example: '2026-05-01T10:00:01.250Z' })
  at!: string;
}

export class SimulatorOutbox {
  @ApiProperty({ type: () => [SimulatorOutboxEntry], description: 'In send order' })
  messages!: SimulatorOutboxEntry[];
}

export class FaultAccepted {
  @ApiProperty({ example: 'sales' })
  id!: string;

  @ApiProperty({ enum: FAULT_TYPES, example: 'browser-crash' })
  fault!: string;

  @ApiProperty({ enum: [true], example: true })
  accepted!: true;
}
