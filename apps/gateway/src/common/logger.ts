import { RequestMethod } from '@nestjs/common';
import pino, { type Logger } from 'pino';
import { PinoLogger, type Params } from 'nestjs-pino';
import { safeErrSerializer, safeLoggerOptions } from '@app/core';
import { pathOf } from './request-id';

/** The gateway's loggers: one root, and how HTTP requests are logged (nestjs-pino). */
export interface GatewayLogging {
  /**
   * What services log through (provided as LOGGER by the core module): during a request it
   * writes through that request's logger, so every line carries the request's `reqId`; outside
   * one, through the root.
   */
  logger: Logger;
  /** nestjs-pino's `LoggerModule.forRoot` parameters. */
  params: Params;
}

export function createGatewayLogging(level: string): GatewayLogging {
  // The shared `err` serializer and redaction list (libs/core): no keys, bodies, content or
  // Redis command arguments, whatever an error or a request carries.
  const root = pino({ level, base: { service: 'gateway' }, ...safeLoggerOptions() });
  const params: Params = {
    // nestjs-pino's default route (`{/*splat}`) matches nothing under the Fastify adapter of
    // Nest 12, and no request was ever logged; this pattern matches every path, `/` included.
    forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
    pinoHttp: {
      logger: root,
      // The request's logger binds only `reqId` (Fastify's request id: the caller's
      // X-Request-Id when sane, see request-id.ts), so every line of the request carries it;
      // the line that closes the request adds `req` and `res`.
      quietReqLogger: true,
      serializers: {
        // pino-http wraps its own serializers around the standard ones, which copy every
        // property of an error (ioredis's failed command included): keep ours.
        err: safeErrSerializer,
        // What identifies the request, nothing it carries: paths only (a query string is the
        // caller's to keep out of our logs) and no headers (keys, cookies: the redaction list
        // stays a second guard). Also less to serialize and redact in the child logger that
        // pino-http binds `req` to on every request (its line is written for 4xx and 5xx, and
        // for every request at LOG_LEVEL=debug).
        req: (req: { id?: unknown; method?: string; url?: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          url: pathOf(req.url),
          remoteAddress: req.remoteAddress,
        }),
      },
      // Successful requests at debug: the send path logs what matters about each message. A 503
      // (Redis down or full, not ready) also at debug: the error filter has logged it at warn
      // with its code, and an outage would otherwise write two lines per refused request.
      customLogLevel: (_req, res, err) =>
        err
          ? 'error'
          : res.statusCode === 503
            ? 'debug'
            : res.statusCode >= 500
              ? 'error'
              : res.statusCode >= 400
                ? 'warn'
                : 'debug',
      // For a 5xx pino-http attaches an Error of its own ("failed with status code 503") with a
      // stack into pino-http: noise, since the error filter has logged the real cause. Kept only
      // when the error is a real one.
      customErrorObject: (_req, _res, error: Error, val: Record<string, unknown>) => {
        if (!/^failed with status code \d+$/.test(error?.message ?? '')) return val;
        const { err: _synthetic, ...rest } = val;
        return rest;
      },
    },
  };
  // nestjs-pino keeps the current request's logger in its AsyncLocalStorage; a PinoLogger
  // reads it (and builds the one pino-http instance from these same params).
  const context = new PinoLogger(params);
  return { logger: requestBoundLogger(root, () => context.logger), params };
}

/**
 * A pino Logger that writes through `current()` (the request's logger while a request is being
 * handled) and through `root` otherwise. Services keep injecting a plain pino `Logger`.
 */
export function requestBoundLogger(root: Logger, current: () => Logger | undefined): Logger {
  return new Proxy(root, {
    get(target, prop) {
      const logger = current() ?? target;
      const value: unknown = Reflect.get(logger, prop, logger);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(logger)
        : value;
    },
  });
}
