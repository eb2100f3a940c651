import type { EventEmitter } from 'node:events';

/**
 * The part of whatsapp-web.js's `Client` the driver uses: the module boundary. Production
 * passes the real Client; tests pass a scripted one (no WhatsApp is reachable from here).
 */
export interface WwebjsMessage {
  /** `remote` is the chat, `participant` the sender in a group. */
  id: { _serialized: string; fromMe?: boolean; remote?: string; participant?: string };
  /** The text, or a media message's caption. */
  body?: string;
  fromMe?: boolean;
  /** True when the message has media to download (WhatsApp gave it a `directPath`). */
  hasMedia?: boolean;
  /** MessageTypes: `chat`, `image`, …, and system ones (`e2e_notification`, `protocol`, …). */
  type?: string;
  /** The chat of a received message (`…@c.us`, `…@lid`, `…@g.us`, `status@broadcast`). */
  from?: string;
  to?: string;
  /** The sender in a group chat. */
  author?: string;
  /** A status update (`status@broadcast`): not a message to the account. */
  isStatus?: boolean;
  /** Seconds since the epoch. */
  timestamp?: number;
  /** MessageAck: -1 error, 0 pending (local store only), 1 server, 2 device, 3 read, 4 played. */
  ack?: number;
  /** The raw WhatsApp Web model; media messages carry these. */
  _data?: {
    mimetype?: string;
    size?: number;
    filehash?: string;
    filename?: string;
    /** The sender's push name. */
    notifyName?: string;
  };
  /** Fetches the media now; undefined when WhatsApp no longer has it. */
  downloadMedia?(): Promise<
    | { mimetype: string; data: string; filename?: string | null; filesize?: number | null }
    | undefined
  >;
}

export interface WwebjsChat {
  fetchMessages(options: { limit: number; fromMe?: boolean }): Promise<WwebjsMessage[]>;
}

export interface PuppeteerBrowserLike extends EventEmitter {
  isConnected(): boolean;
  process(): { pid?: number } | null;
}

export interface PuppeteerPageLike extends EventEmitter {
  isClosed(): boolean;
  reload(options?: { waitUntil?: string; timeout?: number }): Promise<unknown>;
}

export interface WwebjsClient extends EventEmitter {
  pupBrowser?: PuppeteerBrowserLike | null;
  pupPage?: PuppeteerPageLike | null;
  info?: { wid?: { user?: string; _serialized?: string } } | null;
  initialize(): Promise<void>;
  destroy(): Promise<void>;
  logout(): Promise<void>;
  getState(): Promise<string | null>;
  sendMessage(
    chatId: string,
    content: unknown,
    options?: Record<string, unknown>,
  ): Promise<WwebjsMessage | undefined>;
  getNumberId(number: string): Promise<{ _serialized: string } | null>;
  getChatById(chatId: string): Promise<WwebjsChat>;
  /** A message WhatsApp Web knows (its store, or fetched by id); null when unknown. */
  getMessageById(messageId: string): Promise<WwebjsMessage | null>;
  requestPairingCode(phoneNumber: string, showNotification?: boolean): Promise<string>;
}

/** Options the driver hands to the Client factory (a subset of whatsapp-web.js ClientOptions). */
export interface WwebjsClientOptions {
  authStrategy: unknown;
  puppeteer: {
    executablePath: string;
    headless: boolean;
    pipe: boolean;
    args: string[];
    protocolTimeout?: number;
  };
  authTimeoutMs: number;
  /** Where whatsapp-web.js keeps the WhatsApp Web index.html it ran (its LocalWebCache). */
  webVersionCache: { type: 'local'; path: string };
  qrMaxRetries: number;
  takeoverOnConflict: boolean;
}

export type WwebjsClientFactory = (options: WwebjsClientOptions) => WwebjsClient;

/** The real Client, loaded on first use so nothing else pays for puppeteer. */
export const realClientFactory: WwebjsClientFactory = (options) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client } = require('whatsapp-web.js') as { Client: new (o: unknown) => WwebjsClient };
  return new Client(options);
};

/** whatsapp-web.js's MessageMedia, built lazily for the same reason. */
export function messageMedia(mimetype: string, data: string, filename?: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { MessageMedia } = require('whatsapp-web.js') as {
    MessageMedia: new (m: string, d: string, f?: string | null) => unknown;
  };
  return new MessageMedia(mimetype, data, filename ?? null);
}
