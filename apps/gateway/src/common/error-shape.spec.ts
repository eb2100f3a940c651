import { BadRequestException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { ApiError } from './api-error';
import { renderError } from './error-shape';

describe('renderError', () => {
  it('renders an ApiError with its code, status and headers', () => {
    const r = renderError(new ApiError(429, 'QUEUE_FULL', 'full', { 'Retry-After': '5' }));
    expect(r).toEqual({
      status: 429,
      body: { error: { code: 'QUEUE_FULL', message: 'full' } },
      headers: { 'Retry-After': '5' },
    });
  });

  it('maps framework exceptions to the error shape', () => {
    expect(renderError(new NotFoundException('Cannot GET /x')).body.error).toEqual({
      code: 'NOT_FOUND',
      message: 'No route: GET /x',
    });
    expect(renderError(new PayloadTooLargeException()).status).toBe(413);
    expect(renderError(new ThrottlerException()).body.error.code).toBe('RATE_LIMITED');
    expect(
      renderError(
        new BadRequestException(
          "Body is not valid JSON but content-type is set to 'application/json'",
        ),
      ).body.error.code,
    ).toBe('INVALID_JSON');
  });

  it('maps Fastify content errors by code', () => {
    const tooLarge = Object.assign(new Error('Request body is too large'), {
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      statusCode: 413,
    });
    expect(renderError(tooLarge)).toMatchObject({
      status: 413,
      body: { error: { code: 'PAYLOAD_TOO_LARGE' } },
    });
    const media = Object.assign(new Error('x'), {
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
      statusCode: 415,
    });
    expect(renderError(media).status).toBe(415);
  });

  it('turns Redis connection failures into 503 REDIS_UNAVAILABLE', () => {
    const offline = new Error("Stream isn't writeable and enableOfflineQueue options is false");
    expect(renderError(offline)).toMatchObject({
      status: 503,
      body: { error: { code: 'REDIS_UNAVAILABLE' } },
    });
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    expect(renderError(refused).status).toBe(503);
  });

  it('never leaks an unexpected error', () => {
    const r = renderError(new TypeError('cannot read properties of undefined (reading secret)'));
    expect(r.status).toBe(500);
    expect(r.body.error).toEqual({
      code: 'INTERNAL_ERROR',
      message: expect.not.stringContaining('secret'),
    });
  });
});
