import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { SESSION_ID_PATTERN } from '@app/queue';
import type { AuthedRequest } from '../common/api-key.guard';
import { ApiError } from '../common/api-error';
import { requestFingerprint } from '../common/fingerprint';
import { BulkMessagesDto, SendMessageDto } from './message.dto';
import { MessagesService } from './messages.service';

@Controller('api')
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Post('sessions/:id/messages')
  @HttpCode(202)
  async send(
    @Param('id') sessionId: string,
    @Body() dto: SendMessageDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.messages.accept(
      checkSessionId(sessionId),
      [dto],
      req.clientId ?? '',
      checkKey(idempotencyKey),
      requestFingerprint('POST', req.url.split('?')[0], req.body),
    );
    if (result.replayed) void reply.header('Idempotent-Replayed', 'true');
    return { id: result.ids[0], status: 'queued' };
  }

  @Post('sessions/:id/messages/bulk')
  @HttpCode(202)
  async sendBulk(
    @Param('id') sessionId: string,
    @Body() dto: BulkMessagesDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.messages.accept(
      checkSessionId(sessionId),
      dto.messages,
      req.clientId ?? '',
      checkKey(idempotencyKey),
      requestFingerprint('POST', req.url.split('?')[0], req.body),
    );
    if (result.replayed) void reply.header('Idempotent-Replayed', 'true');
    return { ids: result.ids, status: 'queued' };
  }

  @Get('messages/:id')
  async get(@Param('id') id: string) {
    const r = await this.messages.get(id);
    return {
      id: r.id,
      session: r.session,
      to: r.to,
      status: r.status,
      attempts: r.attempts,
      waMessageId: r.waMessageId,
      error: r.error,
      createdAt: r.createdAt,
      sentAt: r.sentAt,
      deliveredAt: r.deliveredAt,
      readAt: r.readAt,
      sendAt: r.sendAt,
      expiresAt: r.expiresAt,
      priority: r.priority,
      history: r.history,
    };
  }

  @Delete('messages/:id')
  async cancel(@Param('id') id: string) {
    await this.messages.cancel(id);
    return { id, status: 'cancelled' };
  }
}

export function checkSessionId(id: string): string {
  if (!SESSION_ID_PATTERN.test(id))
    throw ApiError.notFound('SESSION_NOT_FOUND', `Session "${id}" does not exist`);
  return id;
}

function checkKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw ApiError.badRequest(
      'Idempotency-Key must be 1–255 visible ASCII characters',
      'INVALID_IDEMPOTENCY_KEY',
    );
  }
  return key;
}
