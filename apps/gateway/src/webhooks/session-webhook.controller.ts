import { Body, Controller, Delete, HttpCode, Param, Put } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { checkSessionId } from '../messages/messages.controller';
import { ApiErrors } from '../openapi/api-errors.decorator';
import { ApiSessionIdParam } from '../openapi/api-params';
import { WebhookEndpointDto } from './webhook-endpoint.dto';
import { WebhookEndpoints } from './webhook-endpoints.service';

/** `/api/sessions/:id/webhook`: a session's endpoint, changed without re-creating the session. */
@ApiTags('Webhooks')
@ApiErrors(401, 429, 503)
@Controller('api/sessions')
export class SessionWebhookController {
  constructor(private readonly endpoints: WebhookEndpoints) {}

  @Put(':id/webhook')
  @HttpCode(200)
  @ApiOperation({
    summary: "Set or replace a session's webhook endpoint",
    description:
      'Replaces URL, secret and event types at once (rotate a secret this way). The new secret (generated when none is given) is shown in this answer only. Deliveries already queued go to the new endpoint with the new secret. Re-enables an endpoint that answered 410 Gone.',
  })
  @ApiSessionIdParam()
  @ApiResponse({
    status: 200,
    description: 'The endpoint, with its secret (shown once).',
    schema: {
      example: {
        url: 'https://hooks.example.com/whatsapp',
        events: null,
        signed: true,
        secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      },
    },
  })
  @ApiErrors(
    400,
    'WEBHOOK_SECRET_INVALID',
    'WEBHOOK_URL_NOT_ALLOWED',
    'INVALID_JSON',
    413,
    415,
    'SESSION_NOT_FOUND',
  )
  set(@Param('id') id: string, @Body() dto: WebhookEndpointDto) {
    return this.endpoints.set(checkSessionId(id), dto);
  }

  @Delete(':id/webhook')
  @HttpCode(204)
  @ApiOperation({
    summary: "Remove a session's webhook endpoint",
    description:
      'No more deliveries to it, queued ones included (the global endpoint, if set, still gets its own).',
  })
  @ApiSessionIdParam()
  @ApiResponse({ status: 204, description: 'Removed.' })
  @ApiErrors('SESSION_NOT_FOUND')
  async remove(@Param('id') id: string): Promise<void> {
    await this.endpoints.remove(checkSessionId(id));
  }
}
