import { ApiHeader, ApiParam } from '@nestjs/swagger';
import { SESSION_ID_PATTERN } from '@app/queue';
import { EXAMPLE_MESSAGE_ID } from './event.schemas';

/** The `:id` of every `/api/sessions/:id…` route. */
export const ApiSessionIdParam = (): MethodDecorator =>
  ApiParam({
    name: 'id',
    description: 'The session id (unknown ids are 404 `SESSION_NOT_FOUND`)',
    schema: { type: 'string', pattern: SESSION_ID_PATTERN.source, example: 'sales' },
  });

/** The `:id` of `/api/messages/:id`. */
export const ApiMessageIdParam = (): MethodDecorator =>
  ApiParam({
    name: 'id',
    description: 'The message id from the 202 answer',
    type: String,
    example: EXAMPLE_MESSAGE_ID,
  });

/** The `Idempotency-Key` request header of the send routes. */
export const ApiIdempotencyKeyHeader = (): MethodDecorator =>
  ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Makes a retry safe: the same key with the same body within 24 h answers with the same ids (and `Idempotent-Replayed: true`) and enqueues nothing; with another body 422; while the first request is still being handled 409. Scoped to the API key.',
    schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$', example: 'order-1234' },
  });

/** The header a send answer carries when it was replayed from its Idempotency-Key. */
export const IDEMPOTENT_REPLAYED_HEADER = {
  'Idempotent-Replayed': {
    description: '`true` when this answer is the stored one of an earlier request with the key',
    schema: { type: 'string', enum: ['true'] },
  },
};
