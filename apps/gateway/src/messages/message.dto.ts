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

export class MediaDto {
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  @MaxLength(2048)
  url?: string;

  @IsOptional()
  @IsBase64()
  base64?: string;

  @IsOptional()
  @Matches(/^[\w.+-]+\/[\w.+-]+$/, { message: 'media.mimetype must look like type/subtype' })
  mimetype?: string;

  @IsOptional()
  @IsString()
  @Length(1, 255)
  filename?: string;

  @IsOptional()
  @IsString()
  @Length(1, 1024)
  caption?: string;
}

export class SendMessageDto {
  @IsString()
  @Length(1, 64)
  to!: string;

  @IsOptional()
  @IsString()
  @Length(1, 4096)
  text?: string;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => MediaDto)
  media?: MediaDto;

  @IsOptional()
  @IsString()
  @Length(1, 256)
  replyTo?: string;

  @IsOptional()
  @IsRfc3339()
  sendAt?: string;

  @IsOptional()
  @IsRfc3339()
  expiresAt?: string;

  @IsOptional()
  @IsIn(['high', 'normal', 'low'])
  priority?: 'high' | 'normal' | 'low';
}

export class BulkMessagesDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => SendMessageDto)
  messages!: SendMessageDto[];
}
