import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBase64,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  MaxLength,
  ValidateBy,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';
import { parseRfc3339 } from '../common/rfc3339';

/** An RFC 3339 date-time with a zone (see rfc3339.ts): any other form is 400 naming the field. */
function IsRfc3339(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isRfc3339',
      validator: {
        validate: (value: unknown) => parseRfc3339(value) !== null,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be an RFC 3339 date-time with a zone, like 2024-05-01T10:00:00Z or 2024-05-01T12:00:00+02:00`,
      },
    },
    options,
  );
}

/** Exactly one of `url` and `base64`; `mimetype` is required with `base64`. */
export class MediaDto {
  @ApiPropertyOptional({
    description:
      'http(s) URL the worker downloads at send time (size-capped; private addresses refused)',
    format: 'uri',
    maxLength: 2048,
    example: 'https://example.com/invoice-1234.pdf',
  })
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  @MaxLength(2048)
  url?: string;

  @ApiPropertyOptional({
    description: 'The file itself, base64-encoded; at most `MEDIA_MAX_BYTES` once decoded',
    format: 'byte',
    example:
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  })
  @IsOptional()
  @IsBase64()
  base64?: string;

  @ApiPropertyOptional({
    description: 'Required with `base64`; must agree with the bytes',
    pattern: '^[\\w.+-]+/[\\w.+-]+$',
    example: 'image/png',
  })
  @IsOptional()
  @Matches(/^[\w.+-]+\/[\w.+-]+$/, { message: 'media.mimetype must look like type/subtype' })
  mimetype?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: 255, example: 'invoice-1234.pdf' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  filename?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: 1024, example: 'Your invoice' })
  @IsOptional()
  @IsString()
  @Length(1, 1024)
  caption?: string;
}

/** One message: `text`, `media`, or both (`media.caption` or `text` as the caption). */
export class SendMessageDto {
  @ApiProperty({
    description:
      'A phone number with its country code (`15551234567`, `+1 555 123 4567`) or a chat id (`…@c.us`, `…@g.us`)',
    minLength: 1,
    maxLength: 64,
    example: '+1 555 123 4567',
  })
  @IsString()
  @Length(1, 64)
  to!: string;

  @ApiPropertyOptional({
    description: 'Required unless `media` is given',
    minLength: 1,
    maxLength: 4096,
    example: 'Your order shipped',
  })
  @IsOptional()
  @IsString()
  @Length(1, 4096)
  text?: string;

  @ApiPropertyOptional({ type: () => MediaDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => MediaDto)
  media?: MediaDto;

  @ApiPropertyOptional({
    description: 'WhatsApp id of the message to quote',
    minLength: 1,
    maxLength: 256,
    example: 'false_15551234567@c.us_3EB0A1B2C3D4E5F60718',
  })
  @IsOptional()
  @IsString()
  @Length(1, 256)
  replyTo?: string;

  @ApiPropertyOptional({
    description:
      'Send at this time, not before (RFC 3339 with a zone; at most `MAX_SCHEDULE_DAYS` ahead)',
    format: 'date-time',
    example: '2026-05-01T10:00:00Z',
  })
  @IsOptional()
  @IsRfc3339()
  sendAt?: string;

  @ApiPropertyOptional({
    description: 'Not sent after this time: the message becomes `expired` (RFC 3339 with a zone)',
    format: 'date-time',
    example: '2026-05-01T12:00:00+02:00',
  })
  @IsOptional()
  @IsRfc3339()
  expiresAt?: string;

  @ApiPropertyOptional({
    enum: ['high', 'normal', 'low'],
    default: 'normal',
    description: 'Higher first; within a level, in the order accepted',
  })
  @IsOptional()
  @IsIn(['high', 'normal', 'low'])
  priority?: 'high' | 'normal' | 'low';
}

export class BulkMessagesDto {
  @ApiProperty({ type: () => [SendMessageDto], minItems: 1, maxItems: 1000 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => SendMessageDto)
  messages!: SendMessageDto[];
}
