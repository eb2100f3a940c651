import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyGuard } from '../common/api-key.guard';
import { renderError } from '../common/error-shape';
import { isBoardRoute } from './board-route';

/**
 * HTTP basic auth (any user, an API key as password) on every route of Bull Board: its page, its
 * API and its static assets. They are Fastify routes registered by bull-board's plugin, outside
 * Nest's controllers, so the global guard never sees them: a Fastify `onRequest` hook on the
 * root instance (inherited by the plugin, which loads later) runs the guard's own key check
 * (one implementation: same keys, same per-address failure count and 429) on every request
 * whose MATCHED route is the board's. A failure is answered here, in the API's error shape,
 * always with the basic challenge (only a browser opens the board).
 */
@Injectable()
export class BoardAuth implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly guard: ApiKeyGuard,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (!isBoardRoute(req.routeOptions.url)) return;
      try {
        await this.guard.authenticate(req, 'always');
      } catch (err) {
        // Answered here: errors thrown inside the board's routes go to bull-board's handler.
        const rendered = renderError(err);
        return reply.status(rendered.status).headers(rendered.headers).send(rendered.body);
      }
    });
  }
}
