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
import type { FastifyReply } from 'fastify';
import QRCode from 'qrcode';
import { ApiError } from '../common/api-error';
import { checkSessionId } from '../messages/messages.controller';
import { toChatId } from '../messages/recipient';
import { CreateSessionDto, FaultDto, PairingCodeDto } from './session.dto';
import { SessionsService } from './sessions.service';

@Controller('api/sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Post()
  @HttpCode(201)
  create(@Body() dto: CreateSessionDto) {
    return this.sessions.create(dto);
  }

  @Get()
  async list() {
    return { sessions: await this.sessions.list() };
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.sessions.get(checkSessionId(id));
  }

  @Get(':id/qr')
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
  async recover(@Param('id') id: string) {
    await this.sessions.recover(checkSessionId(id));
    return { id, recovering: true };
  }

  @Delete(':id')
  @HttpCode(202)
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
  async pairingCode(@Param('id') id: string, @Body() dto: PairingCodeDto) {
    return { code: await this.sessions.pairingCode(checkSessionId(id), dto.phone) };
  }

  @Get(':id/contacts/:phone')
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
  async outbox(@Param('id') id: string) {
    return { messages: await this.sessions.outboxOf(checkSessionId(id)) };
  }

  @Post(':id/simulator/faults')
  @HttpCode(202)
  async fault(@Param('id') id: string, @Body() dto: FaultDto) {
    await this.sessions.injectFault(checkSessionId(id), dto);
    return { id, fault: dto.type, accepted: true };
  }
}
