import pino, { type Logger } from 'pino';

/** The root structured logger of the worker; every line about a session binds its id. */
export const LOGGER = Symbol('LOGGER');

export function createLogger(level: string, workerId: string): Logger {
  return pino({
    level,
    base: { service: 'sender-worker', workerId },
    // Auth data and API keys never reach the logs, whatever object is logged.
    redact: ['*.apiKey', '*.secret', '*.authData', 'headers["x-api-key"]'],
  });
}
