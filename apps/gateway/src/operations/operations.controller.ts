import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { IsString, Matches } from 'class-validator';
import { MessageQueueService, SESSION_ID_PATTERN } from '@app/queue';
import { SessionsService } from '../sessions/sessions.service';
import { HealthService } from '../health/health.service';
import { WorkersService } from './workers.service';
import { ApiErrors } from '../openapi/api-errors.decorator';
import { QueueCounts } from '../sessions/session.responses';
import { ClearedQueue, HealthReport, RecoveringSession, WorkerList } from './operations.responses';

export class SessionRefDto {
  @ApiProperty({
    description: 'A session id',
    pattern: SESSION_ID_PATTERN.source,
    example: 'sales',
  })
  @IsString()
  @Matches(SESSION_ID_PATTERN, { message: 'session must be a session id' })
  session!: string;
}

/** What a JSON body can get wrong besides its fields. */
const BODY_ERRORS = [400, 'INVALID_JSON', 413, 415] as const;

/** The seed gateway's operations endpoints, kept for the users who script against them. */
@ApiTags('Operations')
@ApiErrors(401, 429)
@Controller('api')
export class OperationsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly producer: MessageQueueService,
    private readonly health: HealthService,
    private readonly workersService: WorkersService,
  ) {}

  /** Needs a key, but monitoring polls it: not counted against the request rate limit. */
  @Get('health')
  @SkipThrottle()
  @ApiOperation({
    summary: 'Health of the gateway and every session',
    description:
      "The seed gateway's fields per session, plus what the consistency check settled. Not rate limited (monitoring polls it); answers `down` rather than 503 when Redis is unreachable.",
  })
  @ApiOkResponse({ type: HealthReport })
  // No 503 (it answers `down`), and no request limit: only the failed-key 429.
  @ApiErrors('TOO_MANY_AUTH_FAILURES')
  report() {
    return this.health.report();
  }

  /** Live workers with their sessions, capacity, memory and last heartbeat. */
  @Get('workers')
  @ApiOperation({
    summary: 'Live workers',
    description: 'Their sessions, capacity, memory and last heartbeat.',
  })
  @ApiOkResponse({ type: WorkerList })
  @ApiErrors(503)
  async workers() {
    return { workers: await this.workersService.live() };
  }

  @Get('queue-status')
  @ApiOperation({ summary: 'Queue counts of every session' })
  @ApiExtraModels(QueueCounts)
  @ApiErrors(503)
  @ApiOkResponse({
    description: 'Per session id',
    schema: {
      type: 'object',
      required: ['sessions'],
      properties: {
        sessions: { type: 'object', additionalProperties: { $ref: getSchemaPath(QueueCounts) } },
      },
      example: {
        sessions: {
          sales: { waiting: 3, active: 1, delayed: 0, failed: 0, completed: 120, paused: false },
        },
      },
    },
  })
  async queueStatus() {
    const list = await this.sessions.list();
    return { sessions: Object.fromEntries(list.map((s) => [s.id, s.queue])) };
  }

  @Post('clear-queue')
  @ApiOperation({
    summary: "Cancel a session's waiting messages",
    description:
      'Its waiting and scheduled messages become `cancelled`; one being sent is not stopped.',
  })
  @ApiCreatedResponse({ type: ClearedQueue })
  @ApiErrors(...BODY_ERRORS, 'SESSION_NOT_FOUND', 503)
  async clearQueue(@Body() dto: SessionRefDto) {
    await this.sessions.stored(dto.session);
    return { session: dto.session, cleared: await this.producer.clear(dto.session) };
  }

  @Post('recover-session')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Recover a session now',
    description: 'The same as `POST /api/sessions/{id}/recover`, with the session in the body.',
  })
  @ApiAcceptedResponse({ type: RecoveringSession })
  @ApiErrors(...BODY_ERRORS, 'SESSION_NOT_FOUND', 'SESSION_NOT_RUNNING', 'SESSION_NOT_READY', 503)
  async recoverSession(@Body() dto: SessionRefDto) {
    await this.sessions.recover(dto.session);
    return { session: dto.session, recovering: true };
  }
}
