import pino, { type Logger } from 'pino';
import { safeLoggerOptions } from '@app/core';

/** The root structured logger of the gateway. API keys and secrets are never written. */
export const GATEWAY_LOGGER = Symbol('GATEWAY_LOGGER');

export function createGatewayLogger(level: string): Logger {
  // The shared `err` serializer and redaction list (libs/core): no keys, bodies, content or
  // Redis command arguments, whatever an error or a request carries.
  return pino({ level, base: { service: 'gateway' }, ...safeLoggerOptions() });
}
