import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { SESSION_ID_PATTERN } from '@app/queue';

/** Most dead letters one page lists. */
export const MAX_DEAD_LETTER_PAGE = 500;

/** Far beyond any list kept (30 days of dead letters), well inside what Redis takes. */
const MAX_DEAD_LETTER_OFFSET = 1_000_000_000;

export class DeadLetterQueryDto {
  @ApiPropertyOptional({ description: 'Only this session’s dead letters.', example: 'sales' })
  @IsOptional()
  @IsString()
  @Matches(SESSION_ID_PATTERN, { message: 'session must be a session id' })
  session?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_DEAD_LETTER_PAGE, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_DEAD_LETTER_PAGE)
  limit?: number;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: MAX_DEAD_LETTER_OFFSET,
    default: 0,
    description: 'Dead letters to skip (newest first).',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  // Bounded: `1e21` is an integer to class-validator, and not one Redis would take.
  @Max(MAX_DEAD_LETTER_OFFSET)
  offset?: number;
}

/**
 * A delivery id (`<event id>.<endpoint kind>`), as the path of a dead-letter route must hold:
 * event ids are `evt_<uuid>` or derived from a WhatsApp id, never with `:` (a BullMQ job id).
 */
export const DELIVERY_ID_PATTERN = /^[A-Za-z0-9_@.-]{1,200}\.(session|global)$/;
