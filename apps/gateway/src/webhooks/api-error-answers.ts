import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';

/** An error answer of a route, in the contract's shape, with an example. */
export interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
}

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};

export const UNAUTHORIZED: ErrorAnswer = {
  status: 401,
  code: 'UNAUTHORIZED',
  message: 'Missing X-Api-Key header (or basic credentials)',
};
export const REDIS_UNAVAILABLE: ErrorAnswer = {
  status: 503,
  code: 'REDIS_UNAVAILABLE',
  message: 'Redis is unreachable: nothing was stored, try again',
};

/**
 * Documents the error answers a route gives (`{error: {code, message}}`), one example each.
 * Every route of this module needs the key and Redis: 401 and 503 are always listed.
 */
export function ApiErrorAnswers(...answers: ErrorAnswer[]): MethodDecorator {
  return applyDecorators(
    ...[...answers, UNAUTHORIZED, REDIS_UNAVAILABLE].map((a) =>
      ApiResponse({
        status: a.status,
        description: a.message,
        schema: { ...ERROR_SCHEMA, example: { error: { code: a.code, message: a.message } } },
      }),
    ),
  );
}
