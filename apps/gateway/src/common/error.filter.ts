import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { renderError } from './error-shape';
import { pathOf } from './request-id';

/** Renders every exception as `{error: {code, message}}`; logs the unexpected ones. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    const rendered = renderError(exception);
    const where = { method: request.method, url: pathOf(request.url), status: rendered.status };
    if (rendered.status === 503) {
      // Expected while Redis is down or full (or the gateway is not ready): one line at warn,
      // with the code the client got and the cause's message, no stack. pino-http's closing
      // line of a 503 is at debug (logger.ts), so an outage is not logged twice per request.
      // REDIS_FULL stays at error: an operator must act (memory, eviction policy) and alerts
      // on error lines must see it; a Redis that is down is already on every probe and metric.
      const code = rendered.body.error.code;
      this.logger[code === 'REDIS_FULL' ? 'error' : 'warn'](
        { ...where, code, cause: causeOf(exception) },
        'request refused: service unavailable',
      );
    } else if (rendered.status >= 500) {
      this.logger.error({ err: exception, ...where }, 'request failed');
    }
    void reply.status(rendered.status).headers(rendered.headers).send(rendered.body);
  }
}

/** The error's own message (an ioredis error names the connection state, never a command). */
function causeOf(exception: unknown): string | undefined {
  return exception instanceof Error ? exception.message.split('\n')[0].slice(0, 200) : undefined;
}
