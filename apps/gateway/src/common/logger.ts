import pino, { type Logger } from 'pino';
import { safeLoggerOptions } from '@app/core';

/** The root structured logger of the gateway (provided as LOGGER by the core module). */
export function createGatewayLogger(level: string): Logger {
  // The shared `err` serializer and redaction list (libs/core): no keys, bodies, content or
  // Redis command arguments, whatever an error or a request carries.
  return pino({ level, base: { service: 'gateway' }, ...safeLoggerOptions() });
}
