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
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { SESSION_ID_PATTERN } from '@app/queue';
import { DRIVER_NAMES, FAULT_TYPES, type DriverName } from '@app/session';

export class RateLimitDto {
  @IsInt()
  @Min(0)
  @Max(10000)
  perMinute!: number;

  @IsInt()
  @Min(0)
  @Max(3600000)
  minDelayMs!: number;

  @IsInt()
  @Min(0)
  @Max(3600000)
  maxDelayMs!: number;
}

export class WebhookDto {
  // Parsed and checked against the address policy by webhook-url.ts (WHATWG URL parsing, as
  // the delivery will use; class-validator's isURL refuses `http://2130706433/` instead of
  // seeing 127.0.0.1 in it).
  @IsString()
  @MaxLength(2048)
  url!: string;

  @IsOptional()
  @IsString()
  @MaxLength(512)
  secret?: string;

  @IsOptional()
  @IsArray()
  @IsIn(['message.status', 'message.received', 'session.status'], { each: true })
  events?: string[];
}

export class SimulatorOptionsDto {
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(600000)
  linkAfterMs?: number;

  @IsOptional()
  @Matches(/^\d{6,15}$/, { message: 'simulator.phone must be 6–15 digits' })
  phone?: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(600000)
  sendLatencyMs?: number;

  @IsOptional()
  @IsInt()
  @Min(-1)
  @Max(3600000)
  deliveredAfterMs?: number;

  @IsOptional()
  @IsInt()
  @Min(-1)
  @Max(3600000)
  readAfterMs?: number;

  @IsOptional()
  @IsArray()
  @Matches(/^\d{6,15}$/, {
    each: true,
    message: 'simulator.notOnWhatsApp holds phone numbers (digits)',
  })
  notOnWhatsApp?: string[];
}

export class CreateSessionDto {
  @IsString()
  @Matches(SESSION_ID_PATTERN, { message: 'id must match ^[a-z0-9][a-z0-9_-]{0,63}$' })
  id!: string;

  @IsOptional()
  @IsIn(DRIVER_NAMES)
  driver?: DriverName;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => RateLimitDto)
  rateLimit?: RateLimitDto;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => WebhookDto)
  webhook?: WebhookDto;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => SimulatorOptionsDto)
  simulator?: SimulatorOptionsDto;
}

export class PairingCodeDto {
  @IsString()
  @Matches(/^\+?[\d\s()-]{6,24}$/, { message: 'phone must be a phone number' })
  phone!: string;
}

export class FaultDto {
  @IsIn(FAULT_TYPES)
  type!: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3600000)
  durationMs?: number;
}
