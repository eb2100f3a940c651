import type { PuppeteerBrowserLike, PuppeteerPageLike, WwebjsClient } from './wwebjs-client';

/**
 * whatsapp-web.js launches the browser inside `initialize()` and exposes it (`pupBrowser`,
 * `pupPage`) long before that resolves, without an event to say so: these poll for it, every
 * {@link LAUNCH_POLL_MS}, so the driver can watch the browser (and kill it on a stop) during the
 * launch, not only after it.
 */

/** How often the client is looked at while its browser launches. */
export const LAUNCH_POLL_MS = 25;

/** Resolves when the client exposes its browser, its initialize() settles, or at the deadline. */
export async function untilLaunched(
  client: WwebjsClient,
  initializing: Promise<void>,
  timeoutMs: number,
): Promise<void> {
  let settled = false;
  const done = initializing.then(
    () => (settled = true),
    () => (settled = true),
  );
  const deadline = Date.now() + timeoutMs;
  while (!settled && !client.pupBrowser && Date.now() < deadline) {
    await Promise.race([done, new Promise((r) => setTimeout(r, LAUNCH_POLL_MS))]);
  }
}

/**
 * The browser and page once the client exposes both; null when `wanted()` turns false (the
 * driver stopped, or moved to another client) or at the deadline.
 */
export async function launchedBrowser(
  client: WwebjsClient,
  timeoutMs: number,
  wanted: () => boolean,
): Promise<{ browser: PuppeteerBrowserLike; page: PuppeteerPageLike } | null> {
  const deadline = Date.now() + timeoutMs;
  while (!client.pupBrowser || !client.pupPage) {
    if (!wanted() || Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, LAUNCH_POLL_MS));
  }
  return { browser: client.pupBrowser, page: client.pupPage };
}
