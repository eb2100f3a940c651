import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import QRCode from 'qrcode';
import { ApiError } from '../common/api-error';
import { checkSessionId } from '../messages/messages.controller';
import { toChatId } from '../messages/recipient';
import { ApiErrors } from '../openapi/api-errors.decorator';
import { ApiSessionIdParam } from '../openapi/api-params';
import { CreateSessionDto, FaultDto, PairingCodeDto } from './session.dto';
import {
  ContactCheck,
  FaultAccepted,
  PairingCode,
  QrCode,
  RecoverAccepted,
  Session,
  SessionList,
  SessionRemoved,
  SimulatorOutbox,
} from './session.responses';
import { SessionsService } from './sessions.service';

/** Routes that ask the owning worker (control channel): no live owner is 409. */
const WORKER_ERRORS = ['SESSION_NOT_FOUND', 'SESSION_NOT_RUNNING', 'SESSION_NOT_READY'] as const;
/** What a JSON body can get wrong besides its fields. */
const BODY_ERRORS = ['INVALID_JSON', 413, 415] as const;

@ApiTags('Sessions')
@ApiErrors(401, 429, 503)
@Controller('api/sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create a session',
    description:
      'A session is one WhatsApp account. A worker adopts it and starts it: `starting → qr → authenticating → ready` (scan the QR from `GET /api/sessions/{id}/qr`, or link by phone number with `POST …/pairing-code`). A `simulator` session links itself.',
  })
  @ApiCreatedResponse({ type: Session })
  @ApiErrors(400, 'WEBHOOK_URL_NOT_ALLOWED', ...BODY_ERRORS, 'SESSION_EXISTS', 'SESSION_DELETING')
  create(@Body() dto: CreateSessionDto) {
    return this.sessions.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'List the sessions' })
  @ApiOkResponse({ type: SessionList })
  async list() {
    return { sessions: await this.sessions.list() };
  }

  @Get(':id')
  @ApiOperation({
    summary: 'Look up a session',
    description: 'Status, owner, health, latest error and queue counts.',
  })
  @ApiSessionIdParam()
  @ApiOkResponse({ type: Session })
  @ApiErrors('SESSION_NOT_FOUND')
  get(@Param('id') id: string) {
    return this.sessions.get(checkSessionId(id));
  }

  @Get(':id/qr')
  @ApiOperation({
    summary: 'The QR code to link the account',
    description:
      'While the status is `qr`: a PNG to scan with WhatsApp (Linked devices), or `{qr}` with `Accept: application/json`. The code changes every 20–60 s: poll it. 409 in any other status.',
  })
  @ApiSessionIdParam()
  @ApiExtraModels(QrCode)
  @ApiOkResponse({
    description: 'The QR code',
    content: {
      'image/png': { schema: { type: 'string', format: 'binary' } },
      'application/json': { schema: { $ref: getSchemaPath(QrCode) } },
    },
  })
  @ApiErrors('SESSION_NOT_FOUND', 'SESSION_NOT_IN_QR')
  async qr(
    @Param('id') id: string,
    @Headers('accept') accept: string | undefined,
    @Res() reply: FastifyReply,
  ) {
    const qr = await this.sessions.qr(checkSessionId(id));
    if (accept?.includes('application/json')) {
      return reply.status(200).send({ qr });
    }
    const png = await QRCode.toBuffer(qr, { type: 'png', width: 320, margin: 2 });
    return reply
      .status(200)
      .header('Content-Type', 'image/png')
      .header('Cache-Control', 'no-store')
      .send(png);
  }

  @Post(':id/recover')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Recover a session now',
    description:
      'The owning worker restarts the session at once (also out of `failed`); its messages stay queued and leave once it is `ready`.',
  })
  @ApiSessionIdParam()
  @ApiAcceptedResponse({ type: RecoverAccepted })
  @ApiErrors(...WORKER_ERRORS)
  async recover(@Param('id') id: string) {
    await this.sessions.recover(checkSessionId(id));
    return { id, recovering: true };
  }

  @Delete(':id')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Stop and delete a session',
    description:
      'Stops it, cancels its unsent messages, then removes everything it had. With `logout=true` the device is also unlinked from the account (`loggedOut`), or the answer says why it could not be (`reason`).',
  })
  @ApiSessionIdParam()
  @ApiQuery({
    name: 'logout',
    required: false,
    enum: ['true', 'false'],
    description: 'Also unlink the device (default false)',
  })
  @ApiAcceptedResponse({ type: SessionRemoved })
  @ApiErrors(400, 'SESSION_NOT_FOUND')
  async remove(@Param('id') id: string, @Query('logout') logout?: string) {
    if (logout !== undefined && !['true', 'false'].includes(logout)) {
      throw ApiError.badRequest('logout must be true or false');
    }
    const removed = await this.sessions.remove(checkSessionId(id), logout === 'true');
    return {
      id,
      status: 'stopped',
      cancelledMessages: removed.cancelled,
      ...(removed.logout ? removed.logout : {}),
    };
  }

  @Post(':id/pairing-code')
  @ApiOperation({
    summary: 'Link by phone number instead of QR',
    description:
      'Asks WhatsApp for a pairing code for the number; enter it on the phone. Only while the session waits to be linked (409 otherwise).',
  })
  @ApiSessionIdParam()
  @ApiCreatedResponse({ type: PairingCode })
  @ApiErrors(400, 'NOT_SUPPORTED', ...BODY_ERRORS, ...WORKER_ERRORS)
  async pairingCode(@Param('id') id: string, @Body() dto: PairingCodeDto) {
    return { code: await this.sessions.pairingCode(checkSessionId(id), dto.phone) };
  }

  @Get(':id/contacts/:phone')
  @ApiOperation({
    summary: 'Is a number on WhatsApp?',
    description:
      'Checked by the session (cached, like the check before each send): a running owner is needed unless the answer is cached.',
  })
  @ApiSessionIdParam()
  @ApiParam({
    name: 'phone',
    description: 'A phone number with its country code',
    example: '15551234567',
  })
  @ApiOkResponse({ type: ContactCheck })
  @ApiErrors('INVALID_RECIPIENT', ...WORKER_ERRORS)
  async contact(@Param('id') id: string, @Param('phone') phone: string) {
    const chatId = toChatId(phone);
    if (!chatId || !chatId.endsWith('@c.us')) {
      throw ApiError.badRequest(
        'phone must be a phone number with country code',
        'INVALID_RECIPIENT',
      );
    }
    const check = await this.sessions.checkContact(checkSessionId(id), chatId);
    return { phone: chatId.split('@')[0], chatId, onWhatsApp: check.onWhatsApp };
  }

  @Get(':id/simulator/outbox')
  @ApiTags('Simulator')
  @ApiOperation({
    summary: 'What the simulator sent',
    description:
      "Every message the simulated WhatsApp servers recorded as sent, in send order: recorded apart from the job at the instant of sending, as WhatsApp's servers would.",
  })
  @ApiSessionIdParam()
  @ApiOkResponse({ type: SimulatorOutbox })
  @ApiErrors('NOT_SIMULATOR', 'SESSION_NOT_FOUND')
  async outbox(@Param('id') id: string) {
    return { messages: await this.sessions.outboxOf(checkSessionId(id)) };
  }

  @Post(':id/simulator/faults')
  @HttpCode(202)
  @ApiTags('Simulator')
  @ApiOperation({
    summary: 'Inject a fault',
    description:
      'The owning worker receives the same signals whatsapp-web.js and Chromium give for that failure, and recovers as it would from the real one.',
  })
  @ApiSessionIdParam()
  @ApiAcceptedResponse({ type: FaultAccepted })
  @ApiErrors(400, 'NOT_SIMULATOR', ...BODY_ERRORS, ...WORKER_ERRORS)
  async fault(@Param('id') id: string, @Body() dto: FaultDto) {
    await this.sessions.injectFault(checkSessionId(id), dto);
    return { id, fault: dto.type, accepted: true };
  }
}
