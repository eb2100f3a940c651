import { withTimeout } from '@app/core';
import {
  SessionDriver,
  type DriverContext,
  type FindSentOptions,
  type FoundMessage,
  type NumberCheck,
  type OutgoingMessage,
  type ProbeResult,
  type SendResult,
} from '../../session-driver';
import { SessionDriverError, SessionErrorCode } from '../../session.errors';
import { classifyError, isCrashSignal } from '../../error-classifier';
import { assertChromiumUsable } from './browser/chromium-profile';
import { killProcessTree, pidsUsingProfile, processTreeMemoryMb } from './browser/process-tree';
import { clearStaleSingletonLock } from './browser/profile-lock';
import { watchBrowser } from './browser/browser-watch';
import { loadMedia, type MediaLimits } from '../../media';
import { mediaTooLarge } from '../../media/media-errors';
import { incomingNotFound, incomingWithoutMedia, type DownloadedMedia } from '../../incoming';
import { incomingFromWwebjs } from './wwebjs-incoming';
import { AckTracker, trim } from './ack-tracker';
import { launchedBrowser, untilLaunched } from './browser-launch-watch';
import { candidateMessages, isoFromSeconds } from './reconciliation';
import {
  ACK_ERROR,
  ACK_PENDING,
  ACK_SERVER,
  ackStatus,
  browserLoss,
  clientWithoutInfo,
  disconnectOutcome,
} from './wwebjs-events';
import {
  messageMedia,
  realClientFactory,
  type WwebjsClient,
  type WwebjsClientFactory,
  type WwebjsMessage,
} from './wwebjs-client';

export interface WwebjsDriverOptions {
  chromiumPath: string;
  chromiumArgs: string[];
  /** The browser profile of this session (LocalAuth's or RemoteAuth's folder). */
  profileDir: string;
  /**
   * whatsapp-web.js's web version cache. Its default is `./.wwebjs_cache` in the working directory,
   * which in the worker image is the read-only, root-owned /app: the first login would then fail
   * with EACCES right after `authenticated`. It goes beside the profiles instead.
   */
  webVersionCacheDir: string;
  /** Builds the auth strategy (LocalAuth, or our Redis-backed RemoteAuth). */
  authStrategy: () => unknown;
  media: MediaLimits;
  /** initialize() navigates with `timeout: 0` and can hang forever: this bounds it. */
  startTimeoutMs: number;
  /** Where a message sent with an unknown result is looked for: tries, this far apart. */
  reconcileTries?: number;
  reconcileGapMs?: number;
  /** How long send() waits for the server's ack (>= 1) after sendMessage resolved. */
  serverAckTimeoutMs?: number;
  clientFactory?: WwebjsClientFactory;
}

/**
 * The real driver: whatsapp-web.js on the system Chromium. Crashes are caught from events
 * (browser `disconnected`, page `close` / `error`) within a second, not from the probe; the
 * probe checks the browser, the page and `getState()`. A send whose result whatsapp-web.js
 * does not return is looked for among the chat's sent messages before anything else happens.
 *
 * This class holds the lifecycle (start, restart, stop, teardown) and the calls of the contract;
 * the parts live beside it: wwebjs-events.ts (what whatsapp-web.js's events mean),
 * reconciliation.ts (recognising a sent message), ack-tracker.ts (waiting for the server's ack),
 * browser-launch-watch.ts (the browser during its launch), browser/ (Chromium and /proc).
 */
export class WwebjsDriver extends SessionDriver {
  readonly name = 'wwebjs' as const;

  private client: WwebjsClient | null = null;
  private ready = false;
  private terminated = false;
  private unwatch: (() => void) | null = null;
  private browserPid: number | null = null;
  /** Settles once the browser being launched has a handle (or its launch is over). */
  private launching: Promise<void> | null = null;
  private readonly factory: WwebjsClientFactory;
  private readonly acks = new AckTracker();
  /** WhatsApp ids this driver returned for each message: never claimed for another. */
  private readonly sentIds = new Map<string, string>();

  constructor(
    private readonly ctx: DriverContext,
    private readonly opts: WwebjsDriverOptions,
  ) {
    super();
    this.factory = opts.clientFactory ?? realClientFactory;
  }

  async start(): Promise<void> {
    assertChromiumUsable(this.opts.chromiumPath);
    // Only the lease holder runs this: a lock left by a crashed browser must not block us.
    const lock = clearStaleSingletonLock(this.opts.profileDir);
    if (lock.removed)
      this.ctx.logger.info({ holder: lock.holder }, 'removed a stale Chromium profile lock');
    this.emit('state', { status: 'starting' });
    await this.boot();
  }

  override async restartClient(): Promise<void> {
    if (this.terminated) {
      // This driver reported its loss (or was stopped): it is dead (SessionDriver's contract),
      // its `ready` would never be reported, and a reload would only run out the recovery
      // step's timeout. Only a relaunch (a new driver) brings the session back.
      throw new SessionDriverError(
        SessionErrorCode.SessionClosed,
        'session',
        'this client was lost: the browser must be relaunched',
      );
    }
    const client = this.client;
    const page = client?.pupPage;
    if (!client || !client.pupBrowser?.isConnected() || !page || page.isClosed()) {
      throw new SessionDriverError(
        SessionErrorCode.BrowserCrashed,
        'session',
        'the browser is gone: it must be relaunched',
      );
    }
    // A reload re-runs whatsapp-web.js's inject() (its framenavigated listener): the client
    // restarts in the same browser and profile, and reports qr / ready again.
    this.ready = false;
    // Sends waiting for the old page's acks: their outcome is unknown (the next run reconciles).
    this.acks.abortWaiters();
    this.emit('state', { status: 'starting' });
    await page.reload({ waitUntil: 'load', timeout: this.opts.startTimeoutMs });
  }

  async stop(opts: { logout?: boolean } = {}): Promise<void> {
    if (this.terminated && !this.client) return;
    this.terminated = true;
    this.ready = false;
    const client = this.client;
    if (opts.logout && client) {
      await withTimeout(client.logout(), 10000).catch((err: unknown) =>
        this.ctx.logger.warn({ err }, 'logout failed'),
      );
    }
    await this.teardown();
  }

  override async logout(): Promise<void> {
    // Only a connected client can tell WhatsApp to drop the linked device.
    const client = this.readyClient();
    await withTimeout(client.logout(), 10000);
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const client = this.readyClient();
    const { content } = message;
    const options: Record<string, unknown> = { sendSeen: false };
    if (content.replyTo) options.quotedMessageId = content.replyTo;
    let body: unknown = content.text ?? '';
    if (content.media) {
      const media = await loadMedia(content.media, this.opts.media);
      body = messageMedia(media.mimetype, media.data, media.filename);
      const caption = content.media.caption ?? content.text;
      if (caption) options.caption = caption;
    }
    let sent: WwebjsMessage | undefined;
    let thrown: unknown;
    const epoch = this.acks.epoch;
    try {
      sent = await client.sendMessage(message.chatId, body, options);
    } catch (err) {
      // The browser died under the send: whether it left is unknown.
      if (isCrashSignal(err)) throw classifyError(err, { duringSend: true });
      thrown = err;
    }
    // whatsapp-web.js can return undefined, or throw while serialising, for a message that did
    // go out (wwebjs#201857; PRs #201901, #201839): look for it before deciding anything.
    const found: FoundMessage | null = sent?.id?._serialized
      ? { waMessageId: sent.id._serialized, at: isoFromSeconds(sent.timestamp), ack: sent.ack }
      : await this.lookForSent(
          message,
          this.opts.reconcileTries ?? 3,
          this.opts.reconcileGapMs ?? 1000,
        );
    if (found) {
      this.rememberSent(found.waMessageId, message.messageId);
      // sendMessage resolves once the message is in WhatsApp Web's local store; only an ack
      // >= 1 says the server has it (wwebjs#3692; waitUntilMsgSent is unreliable, #201870).
      await this.acks.serverAck(
        found.waMessageId,
        found.ack,
        this.opts.serverAckTimeoutMs ?? 120000,
        epoch,
      );
      return { waMessageId: found.waMessageId, at: found.at };
    }
    const what = thrown instanceof Error ? `threw "${thrown.message}"` : 'returned no message';
    throw new SessionDriverError(
      SessionErrorCode.UnknownOutcome,
      'unknown_outcome',
      `whatsapp-web.js ${what} and the message is not among the chat's sent messages yet`,
    );
  }

  /**
   * Looks for the message among the chat's recent messages from us: same content (text; media
   * with its caption, mimetype and, where WhatsApp keeps the file as sent, size and hash), sent
   * after the attempt began, not claimed by another of our messages, oldest first. Reports
   * whether the server has it (ack >= 1) or it still waits in the local store (ack 0).
   */
  async findSent(
    message: OutgoingMessage,
    opts: FindSentOptions = {},
  ): Promise<FoundMessage | null> {
    const client = this.readyClient();
    const chat = await client.getChatById(message.chatId);
    const recent = await chat.fetchMessages({ limit: 50, fromMe: true });
    const candidates = candidateMessages(recent, message.content, message.attemptStartedAt, (m) =>
      Math.max(m.ack ?? ACK_SERVER, this.acks.highest(m.id._serialized) ?? -2),
    )
      // A message the server refused (ack -1) did not go out.
      .filter(({ ack }) => ack !== ACK_ERROR);
    for (const { m, ack } of candidates) {
      const id = m.id._serialized;
      const mine = this.sentIds.get(id);
      if (mine !== undefined && mine !== message.messageId) continue;
      if (opts.isClaimed && (await opts.isClaimed(id))) continue;
      return {
        waMessageId: id,
        at: isoFromSeconds(m.timestamp),
        ack,
        pending: ack === ACK_PENDING,
      };
    }
    return null;
  }

  async probe(): Promise<ProbeResult> {
    const client = this.client;
    const browser = client?.pupBrowser;
    const page = client?.pupPage;
    if (!client || !browser?.isConnected()) {
      throw new SessionDriverError(
        SessionErrorCode.BrowserCrashed,
        'session',
        'Browser disconnected',
      );
    }
    if (!page || page.isClosed()) {
      throw new SessionDriverError(
        SessionErrorCode.SessionClosed,
        'session',
        'Protocol error: Session closed (the page is closed)',
      );
    }
    // getState() is a page.evaluate: the caller bounds it (a frozen renderer blocks it).
    const state = (await client.getState()) ?? 'UNKNOWN';
    const memoryMb = this.browserPid
      ? (processTreeMemoryMb(this.browserPid) ?? undefined)
      : undefined;
    return { state, memoryMb };
  }

  async checkNumber(chatId: string): Promise<NumberCheck> {
    const client = this.readyClient();
    const number = chatId.split('@')[0];
    const id = await client.getNumberId(number);
    // WhatsApp's canonical id can differ from the dialled number (e.g. Brazil's ninth digit).
    return id ? { chatId: id._serialized, onWhatsApp: true } : { chatId, onWhatsApp: false };
  }

  /**
   * Fetches an incoming message's media now (never when it arrives: most integrators want the
   * text only, and a download is a page round trip of up to MEDIA_MAX_BYTES in base64). The
   * size WhatsApp announces is checked before the bytes are pulled through the page, the bytes
   * after; the whole download is bounded by MEDIA_FETCH_TIMEOUT_MS.
   */
  override async downloadIncomingMedia(waMessageId: string): Promise<DownloadedMedia> {
    const client = this.readyClient();
    const { timeoutMs } = this.opts.media;
    return withTimeout(
      this.download(client, waMessageId),
      timeoutMs,
      () =>
        new SessionDriverError(
          SessionErrorCode.MediaUnavailable,
          'retryable',
          `WhatsApp did not give the media of ${waMessageId} within ${timeoutMs} ms`,
        ),
    );
  }

  private async download(client: WwebjsClient, waMessageId: string): Promise<DownloadedMedia> {
    const { maxBytes } = this.opts.media;
    let msg: WwebjsMessage | null;
    try {
      msg = await client.getMessageById(waMessageId);
    } catch (err) {
      if (isCrashSignal(err)) throw classifyError(err, { duringSend: false });
      // 'Invalid serialized message id specified': no message can have that id.
      throw incomingNotFound(waMessageId);
    }
    if (!msg) throw incomingNotFound(waMessageId);
    if (!msg.hasMedia || !msg.downloadMedia) throw incomingWithoutMedia(waMessageId);
    const announced = msg._data?.size;
    if (typeof announced === 'number' && announced > maxBytes)
      throw mediaTooLarge(maxBytes, 'the media', announced);
    const media = await msg.downloadMedia().catch((err: unknown) => {
      if (isCrashSignal(err)) throw classifyError(err, { duringSend: false });
      throw new SessionDriverError(
        SessionErrorCode.MediaUnavailable,
        'retryable',
        `WhatsApp could not give the media: ${err instanceof Error ? err.message : String(err)}`,
      );
    });
    // undefined: expired on WhatsApp's servers, or the phone must upload it again.
    if (!media) {
      throw new SessionDriverError(
        SessionErrorCode.MediaUnavailable,
        'retryable',
        `WhatsApp no longer has the media of ${waMessageId} (expired, or not re-uploaded by the sender's phone yet)`,
      );
    }
    const data = Buffer.from(media.data, 'base64');
    if (data.length > maxBytes) throw mediaTooLarge(maxBytes, 'the media', data.length);
    return {
      mimetype: media.mimetype || msg._data?.mimetype || 'application/octet-stream',
      filename: media.filename || msg._data?.filename || null,
      data,
    };
  }

  async requestPairingCode(phone: string): Promise<string> {
    const client = this.client;
    if (!client || this.terminated) {
      throw new SessionDriverError(
        SessionErrorCode.SessionNotReady,
        'session',
        'the session is not running',
      );
    }
    if (this.ready) {
      throw new SessionDriverError(
        SessionErrorCode.SessionNotReady,
        'permanent',
        'the session is already linked',
      );
    }
    const code = await client.requestPairingCode(phone.replace(/\D/g, ''), true);
    return code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
  }

  private async boot(): Promise<void> {
    const client = this.factory({
      authStrategy: this.opts.authStrategy(),
      puppeteer: {
        executablePath: this.opts.chromiumPath,
        headless: true,
        // Over a pipe the browser dies with us: a SIGKILLed worker leaves no orphan Chromium.
        pipe: true,
        args: this.opts.chromiumArgs,
        protocolTimeout: 60000,
      },
      authTimeoutMs: 60000,
      webVersionCache: { type: 'local', path: this.opts.webVersionCacheDir },
      qrMaxRetries: 0,
      takeoverOnConflict: false,
    });
    this.client = client;
    this.wire(client);
    const initializing = client.initialize();
    this.launching = untilLaunched(client, initializing, this.opts.startTimeoutMs);
    // The browser exists before initialize() resolves: watch it as soon as it does.
    const watching = this.watchWhenLaunched(client);
    try {
      await withTimeout(
        initializing,
        this.opts.startTimeoutMs,
        () => new Error(`WhatsApp Web did not open within ${this.opts.startTimeoutMs} ms`),
      );
    } catch (err) {
      this.terminated = true;
      await this.teardown();
      const e = err instanceof Error ? err : new Error(String(err)); // wwebjs throws strings ('auth timeout')
      throw new SessionDriverError(
        SessionErrorCode.StartFailed,
        'session',
        `WhatsApp Web could not be opened: ${e.message.split('\n')[0]}`,
      );
    } finally {
      void watching;
    }
  }

  private wire(client: WwebjsClient): void {
    client.on('qr', (qr: string) => {
      this.ready = false;
      this.emit('state', { status: 'qr', qr });
    });
    client.on('authenticated', () => this.emit('state', { status: 'authenticating' }));
    client.on('auth_failure', (msg: unknown) => {
      this.ready = false;
      this.emit('state', {
        status: 'failed',
        error: { code: 'AUTH_FAILURE', message: `Authentication failed: ${String(msg)}` },
      });
    });
    client.on('ready', () => {
      // `ready` fires again on every re-inject (framenavigated): report it once.
      if (this.ready || this.terminated) return;
      const user = client.info?.wid?.user;
      if (!user) {
        this.lose(clientWithoutInfo());
        return;
      }
      this.ready = true;
      this.emit('state', { status: 'ready', phone: user });
    });
    client.on('change_state', (state: string) =>
      this.ctx.logger.debug({ state }, 'WhatsApp state'),
    );
    client.on('disconnected', (reason: string) => this.onDisconnected(String(reason)));
    // Received messages: `message` only. `message_create` also fires for our own sends, which
    // would come back as `message.received` (see wwebjs-incoming.ts).
    client.on('message', (msg: WwebjsMessage) => {
      if (this.terminated) return;
      const incoming = incomingFromWwebjs(msg);
      if (incoming) this.emit('incoming', incoming);
      else this.ctx.logger.debug({ type: msg?.type }, 'skipped a message that is not incoming');
    });
    client.on('message_ack', (msg: WwebjsMessage, ack: number) => {
      const waMessageId = msg?.id?._serialized;
      if (!waMessageId) return;
      this.acks.note(waMessageId, ack);
      const status = ackStatus(ack);
      if (status) this.emit('ack', { waMessageId, status });
    });
  }

  private onDisconnected(reason: string): void {
    this.ready = false;
    const outcome = disconnectOutcome(reason);
    // After LOGOUT whatsapp-web.js shows a fresh QR in the same browser: keep it running.
    if ('state' in outcome) this.emit('state', outcome.state);
    else this.lose(outcome.lost);
  }

  private async watchWhenLaunched(client: WwebjsClient): Promise<void> {
    const launched = await launchedBrowser(
      client,
      this.opts.startTimeoutMs,
      () => !this.terminated && this.client === client,
    );
    if (!launched) return;
    this.browserPid = launched.browser.process()?.pid ?? null;
    this.unwatch = watchBrowser(launched.browser as never, launched.page as never, (code, detail) =>
      this.lose(browserLoss(code, detail)),
    );
  }

  /** Reports the loss once; the supervisor decides what to do. */
  private lose(err: SessionDriverError): void {
    if (this.terminated) return;
    this.terminated = true;
    this.ready = false;
    this.unwatch?.();
    this.acks.abortWaiters();
    this.emit('lost', err);
  }

  /**
   * Closes the client and makes sure no Chromium process of ours survives, including a browser
   * still being launched when the driver was stopped (a delete during recovery): its launch is
   * waited for, then it is killed by its handle, and as a backstop by its profile. Only the
   * lease holder runs this session's profile here (one folder per host), and the supervisor
   * starts the next driver only after this one's stop, so whatever uses the profile is ours.
   */
  private async teardown(): Promise<void> {
    this.acks.abortWaiters();
    this.unwatch?.();
    this.unwatch = null;
    const client = this.client;
    this.client = null;
    if (client && this.launching) await this.launching;
    const pid = this.browserPid ?? client?.pupBrowser?.process()?.pid ?? null;
    if (client) await withTimeout(client.destroy(), 10000).catch(() => undefined);
    if (pid) killProcessTree(pid);
    this.browserPid = null;
    for (const stray of pidsUsingProfile(this.opts.profileDir)) killProcessTree(stray);
  }

  private rememberSent(waMessageId: string, messageId: string): void {
    this.sentIds.set(waMessageId, messageId);
    trim(this.sentIds, 2000);
  }

  private async lookForSent(
    message: OutgoingMessage,
    tries: number,
    gapMs: number,
  ): Promise<FoundMessage | null> {
    for (let i = 0; i < tries; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
      try {
        const found = await this.findSent(message);
        if (found) return found;
      } catch (err) {
        if (isCrashSignal(err)) throw classifyError(err, { duringSend: true });
      }
    }
    return null;
  }

  private readyClient(): WwebjsClient {
    if (!this.client || this.terminated || !this.ready) {
      throw new SessionDriverError(
        SessionErrorCode.SessionNotReady,
        'session',
        'the session is not ready',
      );
    }
    return this.client;
  }
}

export { ACCOUNT_REASONS } from './wwebjs-events';
