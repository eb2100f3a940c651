import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsOptional, IsString, Length, Matches, ValidateNested } from 'class-validator';
import { WA_MESSAGE_ID_PATTERN } from '@app/session';
import { MediaDto } from '../messages/message.dto';

/** `POST /api/sessions/:id/simulator/incoming`: a message someone sends the simulated account. */
export class SimulateIncomingDto {
  @ApiProperty({
    description:
      'The sender: a phone number with country code, written as `to` of an outgoing message (`15551234567`, `+1 555 123 4567`)',
    example: '+1 555 123 4567',
  })
  @IsString()
  @Length(1, 64)
  from!: string;

  @ApiPropertyOptional({
    description:
      'The text (1–4096 characters); with `media`, its caption unless media.caption is set',
    example: 'Hi, is my order on its way?',
  })
  @IsOptional()
  @IsString()
  @Length(1, 4096)
  text?: string;

  @ApiPropertyOptional({
    type: () => MediaDto,
    description:
      'Media as for outgoing messages: `{url}` or `{base64, mimetype}`, optional `filename`, `caption`; at most MEDIA_MAX_BYTES',
  })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => MediaDto)
  media?: MediaDto;

  @ApiPropertyOptional({
    description:
      'The WhatsApp id to give the message (default: a new one). Posting an id again delivers the message again, as WhatsApp does after a reconnect: its `message.received` event is recorded once',
    example: 'false_15551234567@c.us_3EB0A1B2C3D4E5F6A7B8',
  })
  @IsOptional()
  @Matches(WA_MESSAGE_ID_PATTERN, {
    message: 'waMessageId must be 1–256 letters, digits and _ . @ : -',
  })
  waMessageId?: string;
}

export class SimulateIncomingAnswer {
  @ApiProperty({ example: 'false_15551234567@c.us_3EB0A1B2C3D4E5F6A7B8' })
  waMessageId!: string;
}
