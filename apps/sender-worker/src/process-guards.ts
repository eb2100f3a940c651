import type { Logger } from 'pino';

/**
 * whatsapp-web.js rejects inside its own listeners (the re-inject on `framenavigated`:
 * "Execution context was destroyed", wwebjs#3107, #3792). Node would kill the process, and every
 * session in it, for that one page. Such a rejection is logged and contained here; the driver
 * that owns the page detects the broken page itself (browser and page events, the probe) and
 * the session is recovered. See ARCHITECTURE.md ("Crashes inside whatsapp-web.js").
 */
export function containUnhandledRejections(logger: Pick<Logger, 'error'>): void {
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled rejection contained');
  });
}
