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
  @Type(() => WebhookEndpointDto)
  webhook?: WebhookEndpointDto;

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
