import { HttpException } from '@nestjs/common';

/**
 * The one exception the gateway throws on purpose. The error filter renders every failure as
 * `{error: {code, message}}`; this class carries the code.
 */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super({ code, message }, status);
  }

  static badRequest(message: string, code = 'VALIDATION_FAILED'): ApiError {
    return new ApiError(400, code, message);
  }
  static notFound(code: string, message: string): ApiError {
    return new ApiError(404, code, message);
  }
  static conflict(code: string, message: string): ApiError {
    return new ApiError(409, code, message);
  }
  static redisDown(): ApiError {
    return new ApiError(
      503,
      'REDIS_UNAVAILABLE',
      'Redis is unreachable: nothing was stored, try again',
    );
  }
  /**
   * Redis went away while a write was under way: its commands may have run and only the replies
   * been lost, so "nothing was stored" would be a lie that makes a client send twice.
   */
  static redisDownWhileStoring(): ApiError {
    return new ApiError(
      503,
      'REDIS_UNAVAILABLE',
      'Redis became unreachable while the request was being stored: it may have been stored. ' +
        'Retry with the same Idempotency-Key (without one, a retry may enqueue the messages twice)',
      { 'Retry-After': '1' },
    );
  }
}
