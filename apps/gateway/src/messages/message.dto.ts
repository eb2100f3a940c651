import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBase64,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';

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
  @ValidateNested()
  @Type(() => MediaDto)
  media?: MediaDto;

  @IsOptional()
  @IsString()
  @Length(1, 256)
  replyTo?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  sendAt?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
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
