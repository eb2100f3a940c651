import type { LoggerOptions } from 'pino';
import { REDACTED_LOG_PATHS } from './redaction';
import { safeErrSerializer } from './safe-err';

/** What both apps' root loggers share: the safe `err` serializer and the redaction list. */
export function safeLoggerOptions(): Pick<LoggerOptions, 'redact' | 'serializers'> {
  return {
    redact: { paths: [...REDACTED_LOG_PATHS], censor: '[redacted]' },
    serializers: { err: safeErrSerializer, error: safeErrSerializer },
  };
}
