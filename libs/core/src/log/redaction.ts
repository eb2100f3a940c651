/**
 * Paths pino removes from every log line of both apps (`redact`), beside {@link safeErrSerializer}
 * which keeps errors to name, message, code and stack. Keys, credentials, auth data, message
 * content and request bodies never reach a log, whichever object they ride on.
 */
export const REDACTED_LOG_PATHS: readonly string[] = [
  // Incoming requests (pino-http's `req`), and any headers object logged on its own.
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'req.body',
  'headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  'headers["idempotency-key"]',
  '*.headers["x-api-key"]',
  '*.headers.authorization',
  // Secrets, wherever they sit one level down.
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  'webhook.secret',
  '*.webhook.secret',
  'authData',
  '*.authData',
  'password',
  '*.password',
  'idempotencyKey',
  '*.idempotencyKey',
  // Payloads: bodies, message content, Redis command arguments.
  'body',
  '*.body',
  'content',
  '*.content',
  'args',
  '*.args',
  '*.command',
];
