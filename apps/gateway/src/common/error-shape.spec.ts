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
    // ioredis (redis-errors' AbortError): what is left of an auto-pipelined batch when its
    // connection closes after part of it was answered.
    const aborted = Object.assign(new Error('Command aborted due to connection close'), {
      name: 'AbortError',
      command: { name: 'evalsha', args: ['…'] },
    });
    expect(renderError(aborted)).toMatchObject({
      status: 503,
      body: { error: { code: 'REDIS_UNAVAILABLE' } },
    });
  });

  it('answers 503 for a MULTI cut by a dropped connection, whose error lists itself as its cause', () => {
    // What ioredis's transaction.js does when the connection closes under a MULTI: MULTI, each
    // queued command and EXEC reject with one Error, which is then pushed onto its own
    // previousErrors. Seen in the Compose e2e as a 500 (stack overflow) while Redis was killed.
    const closed = new Error('Connection is closed.') as Error & { previousErrors?: unknown[] };
    closed.previousErrors = [closed, closed];
    expect(renderError(closed)).toMatchObject({
      status: 503,
      body: { error: { code: 'REDIS_UNAVAILABLE' } },
    });
    const aborted = new Error(
      'EXECABORT Transaction discarded because of previous errors.',
    ) as Error & {
      previousErrors?: unknown[];
    };
    aborted.previousErrors = [new Error('LOADING Redis is loading the dataset in memory'), aborted];
    expect(renderError(aborted).status).toBe(503);
    const full = new Error(
      'EXECABORT Transaction discarded because of previous errors.',
    ) as Error & {
      previousErrors?: unknown[];
    };
    full.previousErrors = [full, new Error('OOM command not allowed when used memory > maxmemory')];
    expect(renderError(full).body.error.code).toBe('REDIS_FULL');
    const other = new Error('EXECABORT Transaction discarded') as Error & {
      previousErrors?: unknown[];
    };
    other.previousErrors = [other];
    expect(renderError(other).status).toBe(500);
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
