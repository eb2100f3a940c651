/** Where Bull Board is served (the contract's `/admin/queues`). */
export const BOARD_ROUTE = '/admin/queues';

/**
 * Whether a route Fastify MATCHED (its pattern, `request.routeOptions.url`) is one of the
 * board's: its page, its API and its static assets all live under {@link BOARD_ROUTE}. Decided
 * on the matched route, never on the raw URL: `/admin/%71ueues` routes to `/admin/queues`, and
 * a spelling that matches no route is Fastify's 404, which serves nothing of the board.
 */
export function isBoardRoute(routeUrl: string | undefined): boolean {
  return routeUrl === BOARD_ROUTE || (routeUrl?.startsWith(`${BOARD_ROUTE}/`) ?? false);
}
