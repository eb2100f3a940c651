import { SetMetadata } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { ExecutionContext } from '@nestjs/common';

export const IS_PUBLIC = 'wa:isPublic';

/**
 * Marks a route (or a whole controller) as open to anyone. Every other route needs an API key:
 * guard by default, decided on the route Fastify matched, never on the raw URL, so a new route
 * cannot be forgotten and no spelling of a path (`/%61pi/…`) reaches a route unguarded.
 * Public by contract: `/healthz`, `/readyz`, `/docs*`, `/metrics` (unless METRICS_API_KEY).
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** Whether the route `context` is about to run is marked {@link Public}. */
export function isPublicRoute(reflector: Reflector, context: ExecutionContext): boolean {
  return (
    reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]) === true
  );
}
