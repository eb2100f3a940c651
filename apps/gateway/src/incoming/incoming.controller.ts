import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../openapi/api-errors.decorator';
import { ApiSessionIdParam } from '../openapi/api-params';
import type { FastifyReply } from 'fastify';
import { checkSessionId } from '../messages/messages.controller';
import { attachmentDisposition, safeContentType } from './content-disposition';
import { SimulateIncomingAnswer, SimulateIncomingDto } from './incoming.dto';
import { IncomingService } from './incoming.service';

/** No ready worker runs the session (409: try again later). */
const WORKER_ERRORS = ['SESSION_NOT_FOUND', 'SESSION_NOT_RUNNING', 'SESSION_NOT_READY'] as const;

/** Incoming messages: the simulator's sandbox sender and the on-demand media download. */
@ApiErrors(401, 429, 503)
@Controller('api/sessions')
export class IncomingController {
  constructor(private readonly incoming: IncomingService) {}

  @Post(':id/simulator/incoming')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Simulator: receive a message as if someone had sent it',
    description:
      'The simulator session receives the message as whatsapp-web.js would deliver it; its `message.received` event is in the event log when this answers.',
  })
  @ApiTags('Simulator')
  @ApiSessionIdParam()
  @ApiAcceptedResponse({ type: SimulateIncomingAnswer })
  @ApiErrors(
    400,
    'INVALID_JSON',
    'INVALID_SENDER',
    'INVALID_MEDIA',
    'MEDIA_URL_FORBIDDEN',
    'NOT_SIMULATOR',
    ...WORKER_ERRORS,
    'MEDIA_TOO_LARGE',
    413,
    415,
  )
  simulate(@Param('id') id: string, @Body() dto: SimulateIncomingDto) {
    return this.incoming.simulate(checkSessionId(id), dto);
  }

  @Get(':id/incoming/:waMessageId/media')
  @ApiOperation({
    summary: "Download an incoming message's media",
    description:
      'Fetched now from WhatsApp by the worker that runs the session (the `message.received` event carries only the metadata); at most MEDIA_MAX_BYTES.',
  })
  @ApiTags('Events')
  @ApiSessionIdParam()
  @ApiParam({
    name: 'waMessageId',
    description: 'data.waMessageId of the message.received event',
    example: 'false_15551234567@c.us_3EB0A1B2C3D4E5F6A7B8',
  })
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({
    description: 'The bytes, with their Content-Type and a Content-Disposition naming the file',
    schema: { type: 'string', format: 'binary' },
  })
  @ApiErrors(
    ...WORKER_ERRORS,
    'INCOMING_MESSAGE_NOT_FOUND',
    'NO_MEDIA',
    'MEDIA_TOO_LARGE',
    'MEDIA_UNAVAILABLE',
  )
  async media(
    @Param('id') id: string,
    @Param('waMessageId') waMessageId: string,
    @Res() reply: FastifyReply,
  ) {
    const media = await this.incoming.media(checkSessionId(id), waMessageId);
    return reply
      .status(200)
      .header('Content-Type', safeContentType(media.mimetype))
      .header('Content-Disposition', attachmentDisposition(media.filename ?? 'media'))
      .header('X-Content-Type-Options', 'nosniff')
      .header('Cache-Control', 'no-store')
      .send(media.data);
  }
}
