// The drivers' entry point: only the worker imports it. The gateway never loads driver code
// (eslint.config.mjs forbids `@app/session/drivers` under apps/gateway); everything both share
// is in the contract, `@app/session`.
export { createSessionDriver } from './driver-factory';
// The whatsapp-web.js Client as the driver sees it: the seam tests replace (no WhatsApp here).
export type {
  PuppeteerBrowserLike,
  PuppeteerPageLike,
  WwebjsChat,
  WwebjsClient,
  WwebjsClientFactory,
  WwebjsClientOptions,
  WwebjsMessage,
} from './wwebjs/wwebjs-client';
