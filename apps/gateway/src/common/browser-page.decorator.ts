import { SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';

export const IS_BROWSER_PAGE = 'wa:isBrowserPage';

/**
 * Marks a route (or a controller) as a page for browsers (the dashboard): its 401 always carries
 * the basic-auth challenge, so the browser asks for credentials whatever the request's Accept
 * header. The key check is the guard's as everywhere; only the challenge differs.
 */
export const BrowserPage = (): MethodDecorator & ClassDecorator =>
  SetMetadata(IS_BROWSER_PAGE, true);

/** Whether the route `context` is about to run is marked {@link BrowserPage}. */
export function isBrowserPage(reflector: Reflector, context: ExecutionContext): boolean {
  return (
    reflector.getAllAndOverride<boolean | undefined>(IS_BROWSER_PAGE, [
      context.getHandler(),
      context.getClass(),
    ]) === true
  );
}
