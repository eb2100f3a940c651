import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { IsString, Matches } from 'class-validator';
import { MessageQueueService, SESSION_ID_PATTERN } from '@app/queue';
import { SessionsService } from '../sessions/sessions.service';
import { HealthService } from '../health/health.service';
import { WorkersService } from './workers.service';

export class SessionRefDto {
  @IsString()
  @Matches(SESSION_ID_PATTERN, { message: 'session must be a session id' })
  session!: string;
}

/** The seed gateway's operations endpoints, kept for the users who script against them. */
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
  report() {
    return this.health.report();
  }

  /** Live workers with their sessions, capacity, memory and last heartbeat. */
  @Get('workers')
  async workers() {
    return { workers: await this.workersService.live() };
  }

  @Get('queue-status')
  async queueStatus() {
    const list = await this.sessions.list();
    return { sessions: Object.fromEntries(list.map((s) => [s.id, s.queue])) };
  }

  @Post('clear-queue')
  async clearQueue(@Body() dto: SessionRefDto) {
    await this.sessions.stored(dto.session);
    return { session: dto.session, cleared: await this.producer.clear(dto.session) };
  }

  @Post('recover-session')
  @HttpCode(202)
  async recoverSession(@Body() dto: SessionRefDto) {
    await this.sessions.recover(dto.session);
    return { session: dto.session, recovering: true };
  }
}
