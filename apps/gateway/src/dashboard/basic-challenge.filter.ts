import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../common/api-error';
import { BASIC_CHALLENGE } from '../common/api-key.guard';
import { renderError } from '../common/error-shape';

/**
 * The dashboard is for browsers: its 401 always carries the basic-auth challenge, so the browser
 * asks for the credentials whatever the request's Accept header (the API guard challenges only
 * requests that look like a browser's). The guard decides; this only adds the header.
 */
@Catch(ApiError)
export class BasicChallengeFilter implements ExceptionFilter {
  catch(exception: ApiError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const rendered = renderError(exception);
    const headers =
      rendered.status === 401
        ? { ...rendered.headers, 'WWW-Authenticate': BASIC_CHALLENGE }
        : rendered.headers;
    void reply.status(rendered.status).headers(headers).send(rendered.body);
  }
}
