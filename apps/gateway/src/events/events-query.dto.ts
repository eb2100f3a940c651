import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';
import { EVENT_TYPES } from '@app/core';
import { SESSION_ID_PATTERN } from '@app/queue';

const TYPE = `(${EVENT_TYPES.map((t) => t.replace('.', '\\.')).join('|')})`;
/** A comma-separated list of event types (spaces around commas allowed). */
const TYPE_LIST = new RegExp(`^\\s*${TYPE}\\s*(,\\s*${TYPE}\\s*)*$`);

/** The query of `GET /api/events`. */
export class EventsQueryDto {
  @ApiPropertyOptional({
    description: 'Only events of this session (404 if there is no such session)',
    example: 'sales',
    pattern: SESSION_ID_PATTERN.source,
  })
  @IsOptional()
  @IsString()
  @Matches(SESSION_ID_PATTERN, { message: 'session must be a session id' })
  session?: string;

  @ApiPropertyOptional({
    description: `Only events of these types, comma-separated: ${EVENT_TYPES.join(', ')}`,
    example: 'message.status,session.status',
    pattern: TYPE_LIST.source,
  })
  @IsOptional()
  @IsString()
  @Matches(TYPE_LIST, {
    message: `types must be a comma-separated list of ${EVENT_TYPES.join(', ')}`,
  })
  types?: string;

  @ApiPropertyOptional({
    description:
      'Resume after this stream position (an `id:` of an earlier event) on the first connect; ' +
      'the `Last-Event-ID` header, which `EventSource` sends when it reconnects, takes precedence. ' +
      '`0-0` replays every event kept.',
    example: '1767225600000-0',
    pattern: '^[0-9]+-[0-9]+$',
  })
  @IsOptional()
  @IsString()
  lastEventId?: string;
}

/** The types a `types` value names (it passed the DTO's check). */
export function parseTypes(
  types: string | undefined,
): Set<(typeof EVENT_TYPES)[number]> | undefined {
  if (types === undefined) return undefined;
  return new Set(types.split(',').map((t) => t.trim() as (typeof EVENT_TYPES)[number]));
}
