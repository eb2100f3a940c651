import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayNotEmpty, IsArray, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { EVENT_TYPES } from '@app/core';

/** A webhook endpoint as a caller gives it: on session creation and `PUT …/webhook`. */
export class WebhookEndpointDto {
  // Parsed and checked against the address policy by webhook-url.ts (WHATWG URL parsing, as
  // the delivery will use; class-validator's isURL refuses `http://2130706433/` instead of
  // seeing 127.0.0.1 in it).
  @ApiProperty({
    description:
      'http(s) URL that receives the events. Loopback and private addresses are refused unless WEBHOOK_ALLOW_PRIVATE=true.',
    example: 'https://hooks.example.com/whatsapp',
    maxLength: 2048,
  })
  @IsString()
  @MaxLength(2048)
  url!: string;

  @ApiPropertyOptional({
    description:
      'Standard Webhooks signing secret: `whsec_` + base64 of 24–64 random bytes. Generated when left out; shown once, in the answer.',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    maxLength: 512,
  })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  secret?: string;

  @ApiPropertyOptional({
    description: 'Event types to deliver; all of them when left out.',
    enum: EVENT_TYPES,
    isArray: true,
    example: ['message.status', 'message.received'],
  })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty({ message: 'webhook.events must not be empty: leave it out for every type' })
  @IsIn(EVENT_TYPES, { each: true })
  events?: string[];
}
