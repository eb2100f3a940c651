import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiError } from '../common/api-error';
import { SessionRefDto } from '../operations/operations.controller';
import { ApiErrors } from '../openapi/api-errors.decorator';
import { DeadLetterQueryDto, DELIVERY_ID_PATTERN } from './dead-letter.dto';
import { DeadLettersService } from './dead-letters.service';

const EXAMPLE = {
  id: 'evt_0b9c5b1e-7d3f-4f7e-9a51-2c8f0e4d6a10.session',
  session: 'sales',
  event: {
    id: 'evt_0b9c5b1e-7d3f-4f7e-9a51-2c8f0e4d6a10',
    type: 'message.status',
    session: 'sales',
    timestamp: '2026-05-01T10:00:00.000Z',
    data: { messageId: 'msg_01HZX', status: 'delivered', previous: 'sent' },
  },
  endpoint: { kind: 'session', url: 'https://hooks.example.com/whatsapp' },
  attempts: [
    { at: '2026-05-01T10:00:00.120Z', status: 503, error: 'HTTP 503', durationMs: 41 },
    { at: '2026-05-02T13:36:02.310Z', status: null, error: 'connect ECONNREFUSED', durationMs: 3 },
  ],
  reason: { code: 'RETRIES_EXHAUSTED', message: 'No 2xx answer after 8 attempts' },
  deadAt: '2026-05-02T13:36:02.313Z',
  replays: 0,
};
const BAD_ID = {
  status: 400 as const,
  code: 'VALIDATION_FAILED',
  message: 'id must be a delivery id (<event id>.session or <event id>.global)',
};
const ID_PARAM = { name: 'id', description: 'The delivery id', example: EXAMPLE.id };

/**
 * `/api/webhooks/dead-letters`: deliveries given up on (retries exhausted, endpoint gone),
 * kept with every attempt, and replayed with the same event id.
 */
@ApiTags('Webhooks')
@ApiErrors(401, 429, 503)
@Controller('api/webhooks/dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLettersService) {}

  @Get()
  @ApiOperation({ summary: 'List dead-lettered webhook deliveries, newest first' })
  @ApiResponse({
    status: 200,
    description:
      'A page of dead letters and how many there are. Endpoint URLs are shown without credentials or query string.',
    schema: { example: { deadLetters: [EXAMPLE], total: 1 } },
  })
  @ApiErrors({
    status: 400,
    code: 'VALIDATION_FAILED',
    message: 'limit must not be greater than 500',
  })
  list(@Query() query: DeadLetterQueryDto) {
    return this.deadLetters.list({
      session: query.session,
      limit: query.limit ?? 100,
      offset: query.offset ?? 0,
    });
  }

  @Post('replay')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Replay every dead letter of a session',
    description:
      'Each goes back on the delivery queue with its event unchanged (same `webhook-id`), with a full retry schedule; the endpoint is re-enabled if it had answered 410 Gone.',
  })
  @ApiResponse({ status: 202, description: 'Queued.', schema: { example: { replayed: 12 } } })
  @ApiErrors(
    { status: 400, code: 'VALIDATION_FAILED', message: 'session must be a session id' },
    'INVALID_JSON',
    413,
    415,
  )
  async replaySession(@Body() dto: SessionRefDto) {
    return { replayed: await this.deadLetters.replaySession(dto.session) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One dead letter, with every delivery attempt' })
  @ApiParam(ID_PARAM)
  @ApiResponse({ status: 200, description: 'The dead letter.', schema: { example: EXAMPLE } })
  @ApiErrors(BAD_ID, 'DEAD_LETTER_NOT_FOUND')
  get(@Param('id') id: string) {
    return this.deadLetters.get(checkDeliveryId(id));
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Replay one dead letter',
    description:
      'Queues the same event (same `webhook-id`) for the same endpoint under job id `<id>.r<n>`, removes the dead letter and re-enables the endpoint. Retrying this call after a lost answer queues nothing more.',
  })
  @ApiParam(ID_PARAM)
  @ApiResponse({
    status: 202,
    description: 'Queued.',
    schema: { example: { id: EXAMPLE.id, jobId: `${EXAMPLE.id}.r1` } },
  })
  @ApiErrors(BAD_ID, 'DEAD_LETTER_NOT_FOUND')
  replay(@Param('id') id: string) {
    return this.deadLetters.replay(checkDeliveryId(id));
  }
}

function checkDeliveryId(id: string): string {
  if (!DELIVERY_ID_PATTERN.test(id)) throw ApiError.badRequest(BAD_ID.message);
  return id;
}
