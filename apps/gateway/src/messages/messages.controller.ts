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
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { SESSION_ID_PATTERN } from '@app/queue';
import type { AuthedRequest } from '../common/api-key.guard';
import { ApiError } from '../common/api-error';
import { requestFingerprint } from '../common/fingerprint';
import { ApiErrors } from '../openapi/api-errors.decorator';
import {
  ApiIdempotencyKeyHeader,
  ApiMessageIdParam,
  ApiSessionIdParam,
  IDEMPOTENT_REPLAYED_HEADER,
} from '../openapi/api-params';
import { BulkMessagesDto, SendMessageDto } from './message.dto';
import { BulkAccepted, MessageAccepted, MessageCancelled, Message } from './message.responses';
import { MessagesService, type Idempotency } from './messages.service';

/** Every error a send can give besides the guard's (401, 429, 503 on the controller). */
const SEND_ERRORS = [
  400,
  'INVALID_RECIPIENT',
  'INVALID_IDEMPOTENCY_KEY',
  'INVALID_JSON',
  'SESSION_NOT_FOUND',
  'IDEMPOTENCY_IN_PROGRESS',
  413,
  'MEDIA_TOO_LARGE',
  415,
  422,
  429,
  'QUEUE_FULL',
  503,
] as const;

@ApiTags('Messages')
@ApiErrors(401, 429, 503)
@Controller('api')
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Post('sessions/:id/messages')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send a message',
    description:
      "Accepted (202) only once Redis holds it: from then on it is never lost and never sent twice. It leaves in the order accepted (unless `sendAt` or `priority` says otherwise), paced by the session's `rateLimit`; follow it with `GET /api/messages/{id}` or the `message.status` events.",
  })
  @ApiSessionIdParam()
  @ApiIdempotencyKeyHeader()
  @ApiAcceptedResponse({
    description: 'Stored and queued',
    type: MessageAccepted,
    headers: IDEMPOTENT_REPLAYED_HEADER,
  })
  @ApiErrors(...SEND_ERRORS)
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
      idempotencyOf(idempotencyKey, req),
    );
    if (result.replayed) void reply.header('Idempotent-Replayed', 'true');
    return { id: result.ids[0], status: 'queued' };
  }

  @Post('sessions/:id/messages/bulk')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send up to 1000 messages at once',
    description:
      'All or nothing: every message is checked first; one bad message refuses the whole request (its index named in the error, `messages[3].to …`).',
  })
  @ApiSessionIdParam()
  @ApiIdempotencyKeyHeader()
  @ApiAcceptedResponse({
    description: 'All stored and queued',
    type: BulkAccepted,
    headers: IDEMPOTENT_REPLAYED_HEADER,
  })
  @ApiErrors(...SEND_ERRORS)
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
      idempotencyOf(idempotencyKey, req),
    );
    if (result.replayed) void reply.header('Idempotent-Replayed', 'true');
    return { ids: result.ids, status: 'queued' };
  }

  @Get('messages/:id')
  @ApiOperation({
    summary: 'Look up a message',
    description:
      'Its status, attempts, WhatsApp id, error and the time of each step. Readable while it is not final, and `MESSAGE_RETENTION_DAYS` after.',
  })
  @ApiMessageIdParam()
  @ApiOkResponse({ type: Message })
  @ApiErrors('MESSAGE_NOT_FOUND')
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
  @ApiOperation({
    summary: 'Cancel a message',
    description: 'Only while it is `queued` (scheduled ones included); 409 once sending or done.',
  })
  @ApiMessageIdParam()
  @ApiOkResponse({ type: MessageCancelled })
  @ApiErrors('MESSAGE_NOT_FOUND', 'MESSAGE_NOT_CANCELLABLE')
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

/**
 * The request's Idempotency-Key and fingerprint, or undefined without a key. The fingerprint
 * (the canonical body hashed) is computed only when there is a key: it is read only by the key's
 * checks, and a bulk's canonical form is a copy of all its messages.
 */
function idempotencyOf(key: string | undefined, req: AuthedRequest): Idempotency | undefined {
  if (key === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw ApiError.badRequest(
      'Idempotency-Key must be 1–255 visible ASCII characters',
      'INVALID_IDEMPOTENCY_KEY',
    );
  }
  return { key, fingerprint: requestFingerprint('POST', req.url.split('?')[0], req.body) };
}
