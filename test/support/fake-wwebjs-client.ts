import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type {
  PuppeteerBrowserLike,
  PuppeteerPageLike,
  WwebjsChat,
  WwebjsClient,
  WwebjsClientOptions,
  WwebjsMessage,
} from '@app/session/drivers';

/**
 * A scripted stand-in for whatsapp-web.js's Client, for tests only: WhatsApp's servers cannot
 * be reached from here, so the module boundary is replaced, and everything behind the driver
 * (classification, reconciliation, recovery) runs for real. It emits the same events with the
 * same arguments as the real Client.
 */
export class FakeBrowser extends EventEmitter implements PuppeteerBrowserLike {
  connected = true;
  isConnected(): boolean {
    return this.connected;
  }
  process(): { pid?: number } | null {
    return null;
  }
  /** As when the Chromium process dies. */
  crash(): void {
    this.connected = false;
    this.emit('disconnected');
  }
}

export class FakePage extends EventEmitter implements PuppeteerPageLike {
  closed = false;
  reloads = 0;
  onReload: () => void = () => undefined;
  isClosed(): boolean {
    return this.closed;
  }
  async reload(): Promise<unknown> {
    this.reloads++;
    this.onReload();
    return null;
  }
}

export class FakeWwebjsClient extends EventEmitter implements WwebjsClient {
  pupBrowser: FakeBrowser | null = null;
  pupPage: FakePage | null = null;
  info: WwebjsClient['info'] = null;
  state: string | null = 'CONNECTED';
  destroyed = false;
  loggedOut = false;
  /** What the chat's sent messages look like to fetchMessages. */
  sentMessages: WwebjsMessage[] = [];
  sendCalls: { chatId: string; content: unknown; options?: Record<string, unknown> }[] = [];
  /** How initialize() behaves: open the page, fail, or never settle. */
  initializeBehaviour: 'ok' | 'fail' | 'hang' = 'ok';
  initializeError = 'net::ERR_NAME_NOT_RESOLVED at https://web.whatsapp.com/';
  /** How sendMessage behaves. */
  sendBehaviour: 'ok' | 'undefined' | 'undefined-but-sent' | 'throw-serialise' | 'crash' | 'hang' =
    'ok';
  /**
   * When the server's ack (1) comes for a message sendMessage put in the local store: after
   * sendMessage resolves (as usual), before it resolves, never (stays 0), or -1 (refused).
   */
  ackBehaviour: 'after' | 'before' | 'never' | 'error' = 'after';
  /** When set, sendMessage waits for it before it answers (a send still in the page). */
  sendGate: Promise<void> | null = null;
  numbersOnWhatsApp = new Map<string, string>();
  /** When true, every number not listed above is on WhatsApp as `<number>@c.us`. */
  everyoneOnWhatsApp = false;
  pairingCode = 'ABCDEFGH';
  /** Messages received (see receive()), by WhatsApp id: what getMessageById finds. */
  received = new Map<string, WwebjsMessage>();
  private counter = 0;

  constructor(readonly options: WwebjsClientOptions) {
    super();
  }

  async initialize(): Promise<void> {
    this.pupBrowser = new FakeBrowser();
    this.pupPage = new FakePage();
    if (this.initializeBehaviour === 'fail') throw new Error(this.initializeError);
    if (this.initializeBehaviour === 'hang') return new Promise<void>(() => undefined);
  }

  /** Drives the lifecycle as WhatsApp Web would: qr, authenticated, ready. */
  link(phone = '15551234567'): void {
    this.emit('qr', '2@fake-qr,key,identity,secret,platform');
    this.emit('authenticated', {});
    this.info = { wid: { user: phone, _serialized: `${phone}@c.us` } };
    this.emit('ready');
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    if (this.pupBrowser) this.pupBrowser.connected = false;
  }

  async logout(): Promise<void> {
    this.loggedOut = true;
  }

  async getState(): Promise<string | null> {
    if (this.state === 'HANG') return new Promise<string>(() => undefined);
    return this.state;
  }

  async sendMessage(
    chatId: string,
    content: unknown,
    options?: Record<string, unknown>,
  ): Promise<WwebjsMessage | undefined> {
    this.sendCalls.push({ chatId, content, options });
    if (this.sendGate) await this.sendGate;
    const message: WwebjsMessage = {
      id: { _serialized: `true_${chatId}_3EB0FAKE${++this.counter}`, fromMe: true },
      body:
        typeof content === 'string'
          ? content
          : typeof options?.caption === 'string'
            ? options.caption
            : '',
      fromMe: true,
      hasMedia: typeof content !== 'string',
      timestamp: Math.floor(Date.now() / 1000),
      ack: 0,
    };
    if (typeof content !== 'string') {
      const media = content as { mimetype?: string; data?: string };
      const data = Buffer.from(media.data ?? '', 'base64');
      message._data = {
        mimetype: media.mimetype,
        size: data.length,
        filehash: createHash('sha256').update(data).digest('base64'),
      };
    }
    if (this.sendBehaviour !== 'crash' && this.sendBehaviour !== 'undefined') {
      if (this.ackBehaviour === 'before') this.ack(message, 1);
      if (this.ackBehaviour === 'after') setImmediate(() => this.ack(message, 1));
      if (this.ackBehaviour === 'error') setImmediate(() => this.ack(message, -1));
    }
    switch (this.sendBehaviour) {
      case 'ok':
        this.sentMessages.push(message);
        return message;
      case 'undefined':
        return undefined;
      case 'undefined-but-sent':
        this.sentMessages.push(message);
        return undefined;
      case 'throw-serialise':
        this.sentMessages.push(message);
        throw new TypeError("Cannot read properties of undefined (reading 'serialize')");
      case 'crash':
        throw new Error(
          'Protocol error (Runtime.callFunctionOn): Session closed. Most likely the page has been closed.',
        );
      case 'hang':
        return new Promise(() => undefined);
    }
  }

  /** The server's (or the recipient's) receipt, as whatsapp-web.js emits it. */
  ack(message: WwebjsMessage, ack: number): void {
    message.ack = ack;
    this.emit('message_ack', message, ack);
  }

  async getNumberId(number: string): Promise<{ _serialized: string } | null> {
    const id =
      this.numbersOnWhatsApp.get(number) ??
      (this.everyoneOnWhatsApp ? `${number}@c.us` : undefined);
    return id ? { _serialized: id } : null;
  }

  async getChatById(chatId: string): Promise<WwebjsChat> {
    return {
      fetchMessages: async ({ limit, fromMe }) =>
        this.sentMessages
          .filter((m) => m.id._serialized.includes(chatId))
          .filter((m) => fromMe === undefined || m.fromMe === fromMe)
          .slice(-limit),
    };
  }

  async requestPairingCode(): Promise<string> {
    return this.pairingCode;
  }

  /**
   * Someone sends the account a message: built as whatsapp-web.js builds a received Message
   * (media as `directPath` → `hasMedia`, its metadata in `_data`, the caption in `body`), and
   * emitted as the real Client does, `message_create` first, then `message`. `media.expired`
   * makes its download answer undefined, as for media WhatsApp no longer has.
   */
  receive(
    fields: Partial<WwebjsMessage> & {
      from: string;
      media?: { mimetype: string; data: Buffer; filename?: string; expired?: boolean };
    },
  ): WwebjsMessage {
    const { media, ...rest } = fields;
    const id = `false_${fields.from}_3EB0IN${++this.counter}`;
    const message: WwebjsMessage = {
      id: { _serialized: id, fromMe: false, remote: fields.from },
      body: '',
      type: media ? 'image' : 'chat',
      fromMe: false,
      hasMedia: !!media,
      timestamp: Math.floor(Date.now() / 1000),
      to: this.info?.wid?._serialized,
      isStatus: fields.from === 'status@broadcast',
      ...rest,
    };
    if (media) {
      message._data = {
        ...message._data,
        mimetype: media.mimetype,
        size: media.data.length,
        filename: media.filename,
      };
      message.downloadMedia = async () =>
        media.expired
          ? undefined
          : {
              mimetype: media.mimetype,
              data: media.data.toString('base64'),
              filename: media.filename ?? null,
              filesize: media.data.length,
            };
    }
    this.received.set(message.id._serialized, message);
    this.emit('message_create', message);
    if (!message.fromMe) this.emit('message', message);
    return message;
  }

  async getMessageById(messageId: string): Promise<WwebjsMessage | null> {
    if (messageId.split('_').length < 3) throw new Error('Invalid serialized message id specified');
    return (
      this.received.get(messageId) ??
      this.sentMessages.find((m) => m.id._serialized === messageId) ??
      null
    );
  }
}
