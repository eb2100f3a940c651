import type { Browser, Page } from 'puppeteer-core';

/** Why a session's browser can no longer be used. */
export type BrowserLostCode = 'BROWSER_CRASHED' | 'RENDERER_CRASHED' | 'PAGE_CLOSED';

/**
 * Reports the loss of the browser or of the WhatsApp page from puppeteer events, so a crash is
 * noticed within tens of milliseconds instead of at the next periodic probe (measured here:
 * browser SIGKILL -> 'disconnected' and chrome://crash -> 'error' both in ~50 ms):
 *
 * - browser `disconnected`: the browser process died or its CDP pipe closed -> BROWSER_CRASHED.
 *   It also fires on a deliberate `browser.close()`: unsubscribe before closing on purpose.
 * - page `error` ("Page crashed!", from Inspector.targetCrashed): the renderer died. The page
 *   object stays open but is dead: every later call on it hangs or fails -> RENDERER_CRASHED.
 * - page `close`: the tab was closed -> PAGE_CLOSED.
 *
 * `onLost` is called at most once; the watch then removes its listeners. If the browser is already
 * disconnected or the page already closed when the watch starts, `onLost` is called on the next
 * microtask, so a loss that happened during setup is not missed.
 *
 * Events cannot see a browser that hangs without dying; that still needs a periodic probe.
 *
 * Returns a function that removes the listeners (idempotent).
 */
export function watchBrowser(
  browser: Browser,
  page: Page,
  onLost: (code: BrowserLostCode, detail: string) => void,
): () => void {
  let done = false;

  const lost = (code: BrowserLostCode, detail: string): void => {
    if (done) return;
    unsubscribe();
    onLost(code, detail);
  };
  const onDisconnected = (): void =>
    lost('BROWSER_CRASHED', 'browser disconnected (process exited or CDP connection closed)');
  const onPageError = (err: unknown): void =>
    lost('RENDERER_CRASHED', err instanceof Error ? err.message : String(err));
  const onPageClose = (): void => lost('PAGE_CLOSED', 'page closed');

  function unsubscribe(): void {
    if (done) return;
    done = true;
    browser.off('disconnected', onDisconnected);
    page.off('error', onPageError);
    page.off('close', onPageClose);
  }

  // Listener types: BrowserEvents/PageEvents are keyed by const enums, which our compiler (swc,
  // file by file) cannot inline from a .d.ts; their string values are accepted through the
  // Record<string, unknown> part of the event maps.
  browser.on('disconnected', onDisconnected);
  page.on('error', onPageError);
  page.on('close', onPageClose);

  if (!browser.connected) {
    queueMicrotask(onDisconnected);
  } else if (page.isClosed()) {
    queueMicrotask(onPageClose);
  }

  return unsubscribe;
}
