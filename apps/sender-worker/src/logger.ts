import pino, { type Logger } from 'pino';
import { safeLoggerOptions } from '@app/core';

/**
 * The root structured logger of the worker (provided as LOGGER by the core module); every line
 * about a session binds its id.
 */
export function createLogger(level: string, workerId: string): Logger {
  return pino({
    level,
    base: { service: 'sender-worker', workerId },
    // Auth data, API keys, message content and Redis command arguments never reach the logs,
    // whatever object (or error: ioredis attaches the failed command to it) is logged.
    ...safeLoggerOptions(),
  });
}
