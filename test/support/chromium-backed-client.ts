import type { WwebjsClientOptions } from '@app/session/drivers';
import { FakeWwebjsClient, type FakeBrowser, type FakePage } from './fake-wwebjs-client';

/**
 * The scripted Client, but on the real Chromium: `initialize()` launches the browser with the
 * driver's own options (path, flags, pipe) and opens a local page, so crashes, memory and
 * process clean-up are real; only WhatsApp's side (QR, ready, the send itself) is scripted.
 */
export class ChromiumBackedClient extends FakeWwebjsClient {
  constructor(options: WwebjsClientOptions) {
    super(options);
    this.everyoneOnWhatsApp = true;
  }

  override async initialize(): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const puppeteer = require('puppeteer-core') as typeof import('puppeteer-core');
    const { executablePath, headless, pipe, args } = this.options.puppeteer;
    const browser = await puppeteer.launch({ executablePath, headless, pipe, args });
    const page = (await browser.pages())[0] ?? (await browser.newPage());
    await page.goto('data:text/html,<title>WhatsApp</title><p>scripted WhatsApp Web</p>');
    this.pupBrowser = browser as unknown as FakeBrowser;
    this.pupPage = page as unknown as FakePage;
    // The phone is linked already (saved auth): WhatsApp Web reports ready shortly after load.
    setTimeout(() => this.link(), 50);
  }

  override async destroy(): Promise<void> {
    this.destroyed = true;
    const browser = this.pupBrowser as unknown as {
      close(): Promise<void>;
      isConnected(): boolean;
    } | null;
    if (browser?.isConnected()) await browser.close().catch(() => undefined);
  }

  /** Makes the page hold about `mb` megabytes, as a leaking WhatsApp Web tab does. */
  async hogMemory(mb: number): Promise<void> {
    const page = this.pupPage as unknown as {
      evaluate(fn: (n: number) => void, n: number): Promise<void>;
    };
    await page.evaluate((n) => {
      const g = globalThis as unknown as { hog: Uint8Array[] };
      g.hog = [];
      for (let i = 0; i < n; i++) g.hog.push(new Uint8Array(1024 * 1024).fill(1));
    }, mb);
  }
}
