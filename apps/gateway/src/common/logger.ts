import pino, { type Logger } from 'pino';

/** The root structured logger of the gateway. API keys and secrets are never written. */
export const GATEWAY_LOGGER = Symbol('GATEWAY_LOGGER');

export const REDACTED_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  '*.apiKey',
  '*.secret',
  'webhook.secret',
];

export function createGatewayLogger(level: string): Logger {
  return pino({ level, base: { service: 'gateway' }, redact: REDACTED_PATHS });
}
