import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { SessionStore } from '@app/session';
import { ApiError } from '../common/api-error';
import { ApiErrors } from '../openapi/api-errors.decorator';
import { EventsQueryDto, parseTypes } from './events-query.dto';
import { EventStreamService } from './event-stream.service';
import { isStreamPosition } from './stream-position';

const STREAM_EXAMPLE = [
  'retry: 3000',
  '',
  'id: 1767225600000-0',
  'event: message.status',
  'data: {"id":"evt_5f0c…","type":"message.status","session":"sales","timestamp":"2026-01-01T00:00:00.000Z","data":{"messageId":"msg_…","status":"sent","previous":"sending","to":"15551234567@c.us","waMessageId":"true_15551234567@c.us_3EB0…"}}',
  '',
  ': ping',
  '',
  '',
].join('\n');

@ApiTags('Events')
@ApiErrors(401, 429, 503)
@Controller('api')
export class EventsController {
  constructor(
    private readonly streams: EventStreamService,
    private readonly sessions: SessionStore,
  ) {}

  @Get('events')
  @ApiOperation({
    summary: 'Live event stream (Server-Sent Events)',
    description:
      'The events webhooks carry (`message.status`, `message.received`, `session.status`), as ' +
      'they happen. Each is written as `id: <stream position>`, `event: <type>`, ' +
      '`data: <event JSON>`; a `retry: 3000` line comes first and a `: ping` comment every ' +
      'EVENTS_HEARTBEAT_MS. To resume, send the last `id` seen as `Last-Event-ID` (what ' +
      '`EventSource` does on reconnect) or `?lastEventId=`: the events after it are replayed, ' +
      'then live ones follow, none missing, none twice. If some of those events are no longer ' +
      'kept, an `event: reset` comes first and the replay starts at the oldest kept. A client ' +
      'that does not read fast enough is disconnected (it resumes with Last-Event-ID). ' +
      'Takes the API key as `X-Api-Key` or as the password of HTTP basic credentials.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'Resume after this stream position (`<ms>-<seq>`); wins over `?lastEventId=`',
  })
  @ApiOkResponse({
    description: 'The stream: stays open, one event per blank-line-terminated block',
    content: { 'text/event-stream': { schema: { type: 'string' }, example: STREAM_EXAMPLE } },
  })
  @ApiErrors(
    {
      status: 400,
      code: 'VALIDATION_FAILED',
      message: 'types must be a comma list of message.status, message.received, session.status',
      description: 'A malformed `session`, `types` or `Last-Event-ID`, or an unknown parameter',
    },
    'INVALID_LAST_EVENT_ID',
    'SESSION_NOT_FOUND',
  )
  async stream(
    @Query() query: EventsQueryDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    // The header is what EventSource sends when it reconnects; the URL still carries the
    // position of the first connect, which is older.
    const after = lastEventId || query.lastEventId;
    if (after !== undefined && !isStreamPosition(after)) {
      throw ApiError.badRequest(
        'Last-Event-ID (or lastEventId) must be a stream position <ms>-<seq>, as sent in id:',
        'INVALID_LAST_EVENT_ID',
      );
    }
    if (query.session !== undefined && !(await this.sessions.exists(query.session))) {
      throw ApiError.notFound('SESSION_NOT_FOUND', `Session "${query.session}" does not exist`);
    }
    await this.streams.open(reply, {
      session: query.session,
      types: parseTypes(query.types),
      after,
    });
  }
}
