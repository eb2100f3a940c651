import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiBadRequestResponse,
  ApiProduces,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { checkSessionId } from '../messages/messages.controller';
import { attachmentDisposition, safeContentType } from './content-disposition';
import { SimulateIncomingAnswer, SimulateIncomingDto } from './incoming.dto';
import { IncomingService } from './incoming.service';

const NOT_RUNNING =
  'SESSION_NOT_RUNNING: no live worker runs the session; SESSION_NOT_READY: it runs but is not ready (both mean: try again later)';

/** Incoming messages: the simulator's sandbox sender and the on-demand media download. */
@ApiTags('incoming')
@ApiSecurity('apiKey')
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
  @ApiParam({ name: 'id', description: 'A simulator session', example: 'sales' })
  @ApiAcceptedResponse({ type: SimulateIncomingAnswer })
  @ApiBadRequestResponse({
    description:
      'Invalid body, sender or media (VALIDATION_FAILED, INVALID_SENDER, INVALID_MEDIA, MEDIA_URL_FORBIDDEN)',
  })
  @ApiNotFoundResponse({ description: 'SESSION_NOT_FOUND' })
  @ApiConflictResponse({
    description: `NOT_SIMULATOR: the session uses another driver; ${NOT_RUNNING}`,
  })
  @ApiPayloadTooLargeResponse({ description: 'MEDIA_TOO_LARGE: media over MEDIA_MAX_BYTES' })
  simulate(@Param('id') id: string, @Body() dto: SimulateIncomingDto) {
    return this.incoming.simulate(checkSessionId(id), dto);
  }

  @Get(':id/incoming/:waMessageId/media')
  @ApiOperation({
    summary: "Download an incoming message's media",
    description:
      'Fetched now from WhatsApp by the worker that runs the session (the `message.received` event carries only the metadata); at most MEDIA_MAX_BYTES.',
  })
  @ApiParam({ name: 'id', example: 'sales' })
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
  @ApiNotFoundResponse({
    description: 'SESSION_NOT_FOUND, INCOMING_MESSAGE_NOT_FOUND, NO_MEDIA (the message has none)',
  })
  @ApiConflictResponse({ description: NOT_RUNNING })
  @ApiPayloadTooLargeResponse({ description: 'MEDIA_TOO_LARGE: the media is over MEDIA_MAX_BYTES' })
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
