import { applyDecorators } from '@nestjs/common';
import { ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ErrorResponse } from './error-response';

/** The statuses the gateway answers errors with (CONTRACT.md, "HTTP API"). */
export type ErrorStatus = 400 | 401 | 404 | 409 | 413 | 415 | 422 | 429 | 502 | 503;

interface KnownError {
  status: ErrorStatus;
  /** An example message, as the gateway words it. */
  message: string;
}

/**
 * Error codes the gateway gives, with their status and an example message: what the document
 * shows as named examples. A code missing here can still be documented with `{status, code,
 * message}`.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: {
    status: 400,
    message: 'text must be shorter than or equal to 4096 characters',
  },
  INVALID_JSON: { status: 400, message: 'The body is not valid JSON' },
  BODY_TOO_DEEP: { status: 400, message: 'The JSON body is nested too deeply' },
  INVALID_RECIPIENT: {
    status: 400,
    message:
      'to must be a phone number with country code (15551234567, +1 555 123 4567) or a chat id (…@c.us, …@g.us)',
  },
  INVALID_IDEMPOTENCY_KEY: {
    status: 400,
    message: 'Idempotency-Key must be 1–255 visible ASCII characters',
  },
  WEBHOOK_URL_NOT_ALLOWED: {
    status: 400,
    message:
      'webhook.url is not allowed: loopback address (set WEBHOOK_ALLOW_PRIVATE=true for tests or single-host setups)',
  },
  NOT_SIMULATOR: {
    status: 400,
    message: 'Session "sales" uses driver "wwebjs"; this route is for simulator sessions',
  },
  NOT_SUPPORTED: { status: 400, message: 'The driver of this session cannot do this' },
  INVALID_SENDER: {
    status: 400,
    message: 'from must be a phone number with country code (15551234567, +1 555 123 4567)',
  },
  INVALID_MEDIA: { status: 400, message: 'media.base64 is not valid base64' },
  MEDIA_URL_FORBIDDEN: {
    status: 400,
    message: 'media.url is not allowed: loopback address',
  },
  INVALID_LAST_EVENT_ID: {
    status: 400,
    message: 'Last-Event-ID must be a stream position (<ms>-<seq>)',
  },
  INCOMING_MESSAGE_NOT_FOUND: {
    status: 404,
    message: 'WhatsApp has no message "false_15551234567@c.us_3EB0A1B2" in this session',
  },
  NO_MEDIA: { status: 404, message: 'The message has no media' },
  MEDIA_UNAVAILABLE: {
    status: 502,
    message: 'WhatsApp no longer has the media of this message',
  },
  UNAUTHORIZED: { status: 401, message: 'Missing X-Api-Key header (or basic credentials)' },
  WEBHOOK_SECRET_INVALID: {
    status: 400,
    message:
      'webhook.secret must be "whsec_" followed by the base64 of 24–64 random bytes (leave it out to have one generated)',
  },
  SESSION_NOT_FOUND: { status: 404, message: 'Session "sales" does not exist' },
  DEAD_LETTER_NOT_FOUND: {
    status: 404,
    message: 'Dead letter "evt_0b9c5b1e-7d3f-4f7e-9a51-2c8f0e4d6a10.session" does not exist',
  },
  MESSAGE_NOT_FOUND: {
    status: 404,
    message: 'Message "msg_0f9c2b6e4d1a4f0e9b7c3a2d1e0f4c5b" does not exist',
  },
  SESSION_EXISTS: { status: 409, message: 'Session "sales" already exists' },
  SESSION_DELETING: {
    status: 409,
    message: 'Session "sales" is still being deleted; try again in a few seconds',
  },
  SESSION_NOT_IN_QR: {
    status: 409,
    message: 'Session "sales" is ready: there is no QR code to scan',
  },
  SESSION_NOT_RUNNING: {
    status: 409,
    message: 'No live worker runs session "sales" right now; it will start when a worker adopts it',
  },
  SESSION_NOT_READY: { status: 409, message: 'Session "sales" is not ready' },
  MESSAGE_NOT_CANCELLABLE: {
    status: 409,
    message:
      'Message "msg_0f9c2b6e4d1a4f0e9b7c3a2d1e0f4c5b" is sent: only queued messages can be cancelled',
  },
  IDEMPOTENCY_IN_PROGRESS: {
    status: 409,
    message: 'A request with this Idempotency-Key is still being handled; retry shortly',
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  MEDIA_TOO_LARGE: {
    status: 413,
    message: 'media.base64 decodes to 20000000 bytes, more than MEDIA_MAX_BYTES (16777216)',
  },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send JSON with Content-Type: application/json' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    message: 'This Idempotency-Key was used with another request body',
  },
  RATE_LIMITED: {
    status: 429,
    message: 'Too many requests: slow down and retry after the Retry-After delay',
  },
  TOO_MANY_AUTH_FAILURES: {
    status: 429,
    message: 'Too many requests with a missing or wrong API key from this address; retry later',
  },
  QUEUE_FULL: {
    status: 429,
    message: 'Session "sales" holds 10000 unsent messages (MAX_QUEUED_PER_SESSION is 10000)',
  },
  REDIS_UNAVAILABLE: {
    status: 503,
    message: 'Redis is unreachable: nothing was stored, try again',
  },
  REDIS_FULL: {
    status: 503,
    message: 'Redis is out of memory: nothing was stored, try again later',
  },
} as const satisfies Record<string, KnownError>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What each status means, and the codes a bare status stands for. */
const STATUSES: Record<ErrorStatus, { description: string; codes: ErrorCode[] }> = {
  400: {
    description: 'Invalid input: the message names every bad field',
    codes: ['VALIDATION_FAILED'],
  },
  401: {
    description:
      'Missing or wrong API key (`X-Api-Key`, or HTTP basic credentials with the key as password)',
    codes: ['UNAUTHORIZED'],
  },
  404: { description: 'Unknown session or message', codes: [] },
  409: { description: 'Conflict with the current state', codes: [] },
  413: { description: 'Body too large', codes: ['PAYLOAD_TOO_LARGE'] },
  415: { description: 'The body is not JSON', codes: ['UNSUPPORTED_MEDIA_TYPE'] },
  422: {
    description: 'An Idempotency-Key reused with another body',
    codes: ['IDEMPOTENCY_KEY_REUSED'],
  },
  429: {
    description: 'Rate limited: retry after `Retry-After` seconds',
    codes: ['RATE_LIMITED', 'TOO_MANY_AUTH_FAILURES'],
  },
  502: {
    description: 'WhatsApp could not give what was asked for (it no longer has it)',
    codes: ['MEDIA_UNAVAILABLE'],
  },
  503: {
    description:
      'Redis is unreachable or full; retry after `Retry-After`. Nothing was stored, unless Redis ' +
      'went away while the request was being stored (the message says so): retry it with the ' +
      'same `Idempotency-Key` to be sure of one copy',
    codes: ['REDIS_UNAVAILABLE', 'REDIS_FULL'],
  },
};

/** Answers that tell the client when to come back. */
const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
};

/** A code the catalogue does not hold (another module's own). */
export interface CustomError {
  status: number;
  code: string;
  message: string;
  /** Replaces the status's generic description. */
  description?: string;
}

export type ErrorSpec = ErrorStatus | ErrorCode | CustomError;

interface Group {
  description: string;
  examples: Map<string, string>;
}

function group(errors: ErrorSpec[]): Map<number, Group> {
  const byStatus = new Map<number, Group>();
  const at = (status: number) => {
    let g = byStatus.get(status);
    if (!g) {
      const known = STATUSES[status as ErrorStatus];
      g = { description: known?.description ?? `Error ${status}`, examples: new Map() };
      byStatus.set(status, g);
    }
    return g;
  };
  for (const e of errors) {
    if (typeof e === 'number') {
      const g = at(e);
      for (const code of STATUSES[e].codes) g.examples.set(code, ERROR_CODES[code].message);
    } else if (typeof e === 'string') {
      at(ERROR_CODES[e].status).examples.set(e, ERROR_CODES[e].message);
    } else {
      const g = at(e.status);
      g.examples.set(e.code, e.message);
      if (e.description) g.description = e.description;
    }
  }
  return byStatus;
}

/**
 * Documents the error answers of a route (or of every route of a controller), all in the one
 * `ErrorResponse` shape: `@ApiErrors(400, 'SESSION_NOT_FOUND', 'SESSION_EXISTS')`. A bare status
 * stands for its generic codes; a code adds itself under its status, as a named example; a
 * `{status, code, message}` documents a code this catalogue does not know. One `@ApiErrors` per
 * method (a status listed again on the method replaces the controller's).
 */
export function ApiErrors(...errors: ErrorSpec[]): MethodDecorator & ClassDecorator {
  const responses = [...group(errors)].map(([status, g]) => {
    const codes = [...g.examples.keys()];
    const examples = Object.fromEntries(
      [...g.examples].map(([code, message]) => [
        code,
        { summary: code, value: { error: { code, message } } },
      ]),
    );
    return ApiResponse({
      status,
      description: codes.length
        ? `${g.description}. Codes: ${codes.map((c) => `\`${c}\``).join(', ')}`
        : g.description,
      // Always JSON, also on routes that produce something else when they succeed (the SSE
      // stream, a media download): `@ApiProduces` would otherwise retype the error answers.
      content: {
        'application/json': {
          schema: { $ref: getSchemaPath(ErrorResponse) },
          ...(codes.length ? { examples } : {}),
        },
      },
      ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
    });
  });
  return applyDecorators(...responses);
}
