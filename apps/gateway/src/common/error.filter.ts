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
    if (rendered.status >= 500) {
      this.logger.error(
        {
          err: exception,
          method: request.method,
          url: pathOf(request.url),
          status: rendered.status,
        },
        'request failed',
      );
    }
    void reply.status(rendered.status).headers(rendered.headers).send(rendered.body);
  }
}
