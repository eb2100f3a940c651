import { EventEmitter } from 'node:events';
import type { Browser, Page } from 'puppeteer-core';
import { watchBrowser, type BrowserLostCode } from './browser-watch';

/**
 * The event logic on stand-ins for puppeteer's Browser and Page; browser.int-spec.ts checks the
 * same function against real Chromium crashes.
 */
class FakeBrowser extends EventEmitter {
  connected = true;
}
class FakePage extends EventEmitter {
  closed = false;
  isClosed(): boolean {
    return this.closed;
  }
}

describe('watchBrowser', () => {
  let browser: FakeBrowser;
  let page: FakePage;
  let calls: Array<[BrowserLostCode, string]>;
  let unsubscribe: () => void;

  beforeEach(() => {
    browser = new FakeBrowser();
    page = new FakePage();
    calls = [];
    unsubscribe = watchBrowser(
      browser as unknown as Browser,
      page as unknown as Page,
      (code, detail) => calls.push([code, detail]),
    );
  });

  it('maps browser disconnected to BROWSER_CRASHED', () => {
    browser.emit('disconnected');
    expect(calls.map(([code]) => code)).toEqual(['BROWSER_CRASHED']);
  });

  it('maps the page error "Page crashed!" to RENDERER_CRASHED with its message', () => {
    page.emit('error', new Error('Page crashed!'));
    expect(calls).toEqual([['RENDERER_CRASHED', 'Page crashed!']]);
  });

  it('maps page close to PAGE_CLOSED', () => {
    page.emit('close');
    expect(calls.map(([code]) => code)).toEqual(['PAGE_CLOSED']);
  });

  it('reports at most once and then drops its listeners', () => {
    page.emit('error', new Error('Page crashed!'));
    page.emit('close');
    browser.emit('disconnected');
    expect(calls.map(([code]) => code)).toEqual(['RENDERER_CRASHED']);
    expect(
      browser.listenerCount('disconnected') +
        page.listenerCount('error') +
        page.listenerCount('close'),
    ).toBe(0);
  });

  it('stops reporting after unsubscribe, which is idempotent', () => {
    unsubscribe();
    unsubscribe();
    browser.emit('disconnected');
    page.emit('close');
    expect(calls).toEqual([]);
    expect(
      browser.listenerCount('disconnected') +
        page.listenerCount('error') +
        page.listenerCount('close'),
    ).toBe(0);
  });

  it('reports a browser already disconnected or a page already closed when the watch starts', async () => {
    const lost: BrowserLostCode[] = [];
    const dead = new FakeBrowser();
    dead.connected = false;
    watchBrowser(dead as unknown as Browser, new FakePage() as unknown as Page, (code) =>
      lost.push(code),
    );
    const closedPage = new FakePage();
    closedPage.closed = true;
    watchBrowser(new FakeBrowser() as unknown as Browser, closedPage as unknown as Page, (code) =>
      lost.push(code),
    );
    await Promise.resolve();
    expect(lost).toEqual(['BROWSER_CRASHED', 'PAGE_CLOSED']);
  });

  it('does not report a loss found at start when unsubscribed at once', async () => {
    const dead = new FakeBrowser();
    dead.connected = false;
    const lost: BrowserLostCode[] = [];
    watchBrowser(dead as unknown as Browser, new FakePage() as unknown as Page, (code) =>
      lost.push(code),
    )();
    await Promise.resolve();
    expect(lost).toEqual([]);
  });
});
