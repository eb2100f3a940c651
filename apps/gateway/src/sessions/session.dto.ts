import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { SESSION_ID_PATTERN } from '@app/queue';
import { DRIVER_NAMES, FAULT_TYPES, type DriverName } from '@app/session';
import { WebhookEndpointDto } from '../webhooks/webhook-endpoint.dto';

/** Per-account pacing; `{perMinute: 0, minDelayMs: 0, maxDelayMs: 0}` turns it off. */
export class RateLimitDto {
  @ApiProperty({
    description: 'At most this many messages in any 60 s; 0 = no cap',
    minimum: 0,
    maximum: 10000,
    example: 20,
  })
  @IsInt()
  @Min(0)
  @Max(10000)
  perMinute!: number;

  @ApiProperty({
    description: 'Shortest random pause between two messages (ms)',
    minimum: 0,
    maximum: 3600000,
    example: 1000,
  })
  @IsInt()
  @Min(0)
  @Max(3600000)
  minDelayMs!: number;

  @ApiProperty({
    description: 'Longest random pause between two messages (ms); not below `minDelayMs`',
    minimum: 0,
    maximum: 3600000,
    example: 3000,
  })
  @IsInt()
  @Min(0)
  @Max(3600000)
  maxDelayMs!: number;
}

/** How the simulator behaves (driver `simulator` only); each field has a default. */
export class SimulatorOptionsDto {
  @ApiPropertyOptional({
    description: 'Time from start (or a logout) until the simulated owner scans the QR (ms)',
    minimum: 0,
    maximum: 600000,
    default: 300,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(600000)
  linkAfterMs?: number;

  @ApiPropertyOptional({
    description: "The simulated account's phone number (digits)",
    pattern: '^\\d{6,15}$',
    default: '15550000000',
  })
  @IsOptional()
  @Matches(/^\d{6,15}$/, { message: 'simulator.phone must be 6–15 digits' })
  phone?: string;

  @ApiPropertyOptional({
    description: 'Time one send takes (ms)',
    minimum: 0,
    maximum: 600000,
    default: 20,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(600000)
  sendLatencyMs?: number;

  @ApiPropertyOptional({
    description: 'Time from sent to the `delivered` ack (ms); -1 = never',
    minimum: -1,
    maximum: 3600000,
    default: 200,
  })
  @IsOptional()
  @IsInt()
  @Min(-1)
  @Max(3600000)
  deliveredAfterMs?: number;

  @ApiPropertyOptional({
    description: 'Time from sent to the `read` ack (ms); -1 = never',
    minimum: -1,
    maximum: 3600000,
    default: 1000,
  })
  @IsOptional()
  @IsInt()
  @Min(-1)
  @Max(3600000)
  readAfterMs?: number;

  @ApiPropertyOptional({
    description: 'Numbers (digits) the simulator reports as not on WhatsApp',
    type: [String],
    default: [],
    example: ['15559990000'],
  })
  @IsOptional()
  @IsArray()
  @Matches(/^\d{6,15}$/, {
    each: true,
    message: 'simulator.notOnWhatsApp holds phone numbers (digits)',
  })
  notOnWhatsApp?: string[];
}

export class CreateSessionDto {
  @ApiProperty({
    description: 'Your name for the session (one WhatsApp account)',
    pattern: SESSION_ID_PATTERN.source,
    example: 'sales',
  })
  @IsString()
  @Matches(SESSION_ID_PATTERN, { message: 'id must match ^[a-z0-9][a-z0-9_-]{0,63}$' })
  id!: string;

  @ApiPropertyOptional({
    enum: DRIVER_NAMES,
    description:
      '`wwebjs` drives WhatsApp Web in Chromium; `simulator` behaves like WhatsApp without a phone. Default: `DEFAULT_DRIVER`',
    example: 'simulator',
  })
  @IsOptional()
  @IsIn(DRIVER_NAMES)
  driver?: DriverName;

  @ApiPropertyOptional({
    type: () => RateLimitDto,
    description: 'Default: one message every 1–3 s, at most 20 a minute',
  })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => RateLimitDto)
  rateLimit?: RateLimitDto;

  @ApiPropertyOptional({
    type: () => WebhookEndpointDto,
    description:
      "Where this session's events go; a secret is generated when none is given and shown once, in this answer",
  })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => WebhookEndpointDto)
  webhook?: WebhookEndpointDto;

  @ApiPropertyOptional({ type: () => SimulatorOptionsDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => SimulatorOptionsDto)
  simulator?: SimulatorOptionsDto;
}

export class PairingCodeDto {
  @ApiProperty({
    description: 'The phone number of the account to link, with its country code',
    pattern: '^\\+?[\\d\\s()-]{6,24}$',
    example: '+1 555 000 0000',
  })
  @IsString()
  @Matches(/^\+?[\d\s()-]{6,24}$/, { message: 'phone must be a phone number' })
  phone!: string;
}

export class FaultDto {
  @ApiProperty({
    enum: FAULT_TYPES,
    description:
      'The failure to simulate: the owning worker gets the signals whatsapp-web.js and Chromium give for it',
    example: 'browser-crash',
  })
  @IsIn(FAULT_TYPES)
  type!: string;

  @ApiPropertyOptional({
    description: 'How long it lasts (ms); a `hang` without it lasts until the session is restarted',
    minimum: 1,
    maximum: 3600000,
    example: 5000,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3600000)
  durationMs?: number;
}
