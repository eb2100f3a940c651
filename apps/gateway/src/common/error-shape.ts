import { HttpException } from '@nestjs/common';
import { ApiError } from './api-error';

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface RenderedError {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

const STATUS_CODES: Record<number, string> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Fastify's own errors (body parsing, size) by their code. */
const FASTIFY_CODES: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: 'INVALID_JSON',
    message: 'The body is not valid JSON',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'INVALID_JSON',
    message: 'The body is empty but Content-Type says JSON',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message: 'The request body is too large',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Send JSON with Content-Type: application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_CONTENT_LENGTH' },
  FST_ERR_BAD_URL: {
    status: 400,
    code: 'INVALID_PATH',
    message: 'The path is not valid (malformed percent-encoding?)',
  },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'INVALID_REQUEST' },
  BODY_TOO_DEEP: { status: 400, code: 'BODY_TOO_DEEP' },
  UNSUPPORTED_CHARSET: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Send JSON in UTF-8 (Content-Type: application/json; charset=utf-8)',
  },
};

/**
 * True if `err`, or one of the errors ioredis lists as its causes (`previousErrors` of a failed
 * MULTI), passes `test`. The causes can hold the error itself: when the connection drops, ioredis
 * rejects MULTI, every queued command and EXEC with one and the same Error object, then lists it
 * as a cause of itself (a naive walk recursed until the stack overflowed: a 500 instead of a 503).
 */
function anyCause(err: unknown, test: (e: Error) => boolean, seen = new Set<unknown>()): boolean {
  if (!(err instanceof Error) || seen.has(err)) return false;
  seen.add(err);
  if (test(err)) return true;
  const previous = (err as { previousErrors?: unknown }).previousErrors;
  return Array.isArray(previous) && previous.some((e) => anyCause(e, test, seen));
}

/** Redis refused a write for lack of memory (maxmemory with noeviction): nothing was stored. */
export function isRedisFull(err: unknown): boolean {
  // A MULTI whose queued commands were refused fails as EXECABORT; ioredis keeps the reasons.
  return anyCause(err, (e) => /OOM command not allowed/.test(e.message));
}

/**
 * Errors that mean Redis did not take the command, or did not answer it: nothing was stored, or
 * a write's reply was lost with its connection (as after a retry ioredis gave up on; also a
 * batch of the auto-pipelined connection cut off midway: "Command aborted due to connection
 * close"). Answered 503: the client retries, with its Idempotency-Key if it sent one.
 */
export function isRedisUnavailable(err: unknown): boolean {
  return anyCause(
    err,
    (e) =>
      e.name === 'MaxRetriesPerRequestError' ||
      /enableOfflineQueue|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Stream isn't writeable|Redis not reachable|connect ETIMEDOUT|LOADING|READONLY|CLUSTERDOWN|Command timed out|Command aborted due to connection close/i.test(
        e.message,
      ),
  );
}

/** Any failure, as the contract's error shape. Unknown errors become 500 INTERNAL_ERROR. */
export function renderError(err: unknown): RenderedError {
  if (err instanceof ApiError) {
    return {
      status: err.getStatus(),
      body: { error: { code: err.code, message: err.message } },
      headers: err.headers,
    };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const res = err.getResponse();
    let message = err.message;
    if (typeof res === 'object' && res && 'message' in res) {
      const m = res.message;
      message = Array.isArray(m) ? m.join('; ') : String(m);
    }
    if (status === 404 && /^Cannot (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)/.test(message)) {
      message = `No route: ${message.replace(/^Cannot /, '')}`;
    }
    if (status === 400 && /valid JSON/i.test(message)) {
      return {
        status,
        body: { error: { code: 'INVALID_JSON', message: 'The body is not valid JSON' } },
        headers: {},
      };
    }
    if (status === 429)
      message = 'Too many requests: slow down and retry after the Retry-After delay';
    return {
      status,
      body: { error: { code: STATUS_CODES[status] ?? `HTTP_${status}`, message } },
      headers: {},
    };
  }
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && FASTIFY_CODES[code]) {
    const f = FASTIFY_CODES[code];
    return {
      status: f.status,
      body: { error: { code: f.code, message: f.message ?? (err as Error).message } },
      headers: {},
    };
  }
  const statusCode = (err as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return {
      status: statusCode,
      body: {
        error: {
          code: STATUS_CODES[statusCode] ?? `HTTP_${statusCode}`,
          message: (err as Error).message,
        },
      },
      headers: {},
    };
  }
  if (isRedisFull(err)) {
    return {
      status: 503,
      body: {
        error: {
          code: 'REDIS_FULL',
          message: 'Redis is out of memory: nothing was stored, try again later',
        },
      },
      headers: { 'Retry-After': '5' },
    };
  }
  if (isRedisUnavailable(err)) {
    const e = ApiError.redisDown();
    return {
      status: 503,
      body: { error: { code: e.code, message: e.message } },
      headers: { 'Retry-After': '1' },
    };
  }
  return {
    status: 500,
    body: {
      error: { code: 'INTERNAL_ERROR', message: 'An unexpected error occurred; it was logged' },
    },
    headers: {},
  };
}
