import { createHash } from 'node:crypto';
import type { MessageContent } from '@app/queue';
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
import { killProcessTree, pidsUsingProfile, processTreeRssMb } from './browser/process-tree';
import { clearStaleSingletonLock } from './browser/profile-lock';
import { watchBrowser } from './browser/browser-watch';
import { loadMedia, type MediaLimits } from '../../media';
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

/** whatsapp-web.js ack values (MessageAck). */
const ACK_ERROR = -1;
const ACK_PENDING = 0;
const ACK_SERVER = 1;
const ACK_DEVICE = 2;
const ACK_READ = 3;
const ACK_PLAYED = 4;

/** Disconnect reasons that are the account's, not the browser's: a person must act. */
const ACCOUNT_REASONS: Record<
  string,
  { status: 'logged_out' | 'failed'; code: string; message: string }
> = {
  LOGOUT: {
    status: 'logged_out',
    code: SessionErrorCode.LoggedOut,
    message: 'The device was unlinked from the phone (LOGOUT): scan the new QR code',
  },
  UNPAIRED: {
    status: 'logged_out',
    code: 'UNPAIRED',
    message: 'The device is no longer paired (UNPAIRED): scan the new QR code',
  },
  UNPAIRED_IDLE: {
    status: 'logged_out',
    code: 'UNPAIRED',
    message: 'The device is no longer paired (UNPAIRED_IDLE): scan the new QR code',
  },
  TOS_BLOCK: {
    status: 'failed',
    code: 'TOS_BLOCK',
    message: 'WhatsApp blocked this number for breaking its terms (TOS_BLOCK)',
  },
  SMB_TOS_BLOCK: {
    status: 'failed',
    code: 'SMB_TOS_BLOCK',
    message: 'WhatsApp blocked this business number (SMB_TOS_BLOCK)',
  },
  DEPRECATED_VERSION: {
    status: 'failed',
    code: 'DEPRECATED_VERSION',
    message:
      'WhatsApp Web refused this client version (DEPRECATED_VERSION): upgrade whatsapp-web.js',
  },
  'Max qrcode retries reached': {
    status: 'failed',
    code: 'QR_NOT_SCANNED',
    message: 'Nobody scanned the QR code in time: recover the session for a new one',
  },
};

/**
 * The real driver: whatsapp-web.js on the system Chromium. Crashes are caught from events
 * (browser `disconnected`, page `close` / `error`) within a second, not from the probe; the
 * probe checks the browser, the page and `getState()`. A send whose result whatsapp-web.js
 * does not return is looked for among the chat's sent messages before anything else happens.
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
  /** Highest ack seen per WhatsApp id (acks can come before sendMessage resolves). */
  private readonly seenAcks = new Map<string, number>();
  private readonly ackWaiters = new Set<{
    waMessageId: string;
    settle: (ack: number | Error) => void;
  }>();
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
    this.emit('state', { status: 'starting' });
    await page.reload({ waitUntil: 'load', timeout: this.opts.startTimeoutMs });
  }

  async stop(opts: { logout?: boolean } = {}): Promise<void> {
    if (this.terminated && !this.client) return;
    this.terminated = true;
    this.ready = false;
    const client = this.client;
    if (opts.logout && client) {
      await bounded(client.logout(), 10000).catch((err: unknown) =>
        this.ctx.logger.warn({ err }, 'logout failed'),
      );
    }
    await this.teardown();
  }

  override async logout(): Promise<void> {
    // Only a connected client can tell WhatsApp to drop the linked device.
    const client = this.readyClient();
    await bounded(client.logout(), 10000);
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
      await this.serverAck(found.waMessageId, found.ack);
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
    const expected = expectedContent(message.content);
    // Clocks differ between this host and the phone: allow a few seconds before the attempt.
    const since = message.attemptStartedAt / 1000 - 5;
    const candidates = recent
      .filter((m) => (m.fromMe ?? m.id.fromMe) !== false)
      .filter((m) => (m.timestamp ?? 0) >= since)
      .filter((m) => contentMatches(m, expected))
      .map((m) => ({
        m,
        ack: Math.max(m.ack ?? ACK_SERVER, this.seenAcks.get(m.id._serialized) ?? -2),
      }))
      // A message the server refused (ack -1) did not go out.
      .filter(({ ack }) => ack !== ACK_ERROR)
      .sort((a, b) => (a.m.timestamp ?? 0) - (b.m.timestamp ?? 0));
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
    const memoryMb = this.browserPid ? (processTreeRssMb(this.browserPid) ?? undefined) : undefined;
    return { state, memoryMb };
  }

  async checkNumber(chatId: string): Promise<NumberCheck> {
    const client = this.readyClient();
    const number = chatId.split('@')[0];
    const id = await client.getNumberId(number);
    // WhatsApp's canonical id can differ from the dialled number (e.g. Brazil's ninth digit).
    return id ? { chatId: id._serialized, onWhatsApp: true } : { chatId, onWhatsApp: false };
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
      qrMaxRetries: 0,
      takeoverOnConflict: false,
    });
    this.client = client;
    this.wire(client);
    const initializing = client.initialize();
    this.launching = this.untilLaunched(client, initializing);
    // The browser exists before initialize() resolves: watch it as soon as it does.
    const watching = this.watchWhenLaunched(client);
    try {
      await bounded(
        initializing,
        this.opts.startTimeoutMs,
        () => `WhatsApp Web did not open within ${this.opts.startTimeoutMs} ms`,
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
        // The field's "Client … has no info - marking as invalid": a broken client.
        this.lose(
          new SessionDriverError(
            'CLIENT_NO_INFO',
            'session',
            'whatsapp-web.js reported ready but has no account info',
          ),
        );
        return;
      }
      this.ready = true;
      this.emit('state', { status: 'ready', phone: user });
    });
    client.on('change_state', (state: string) =>
      this.ctx.logger.debug({ state }, 'WhatsApp state'),
    );
    client.on('disconnected', (reason: string) => this.onDisconnected(String(reason)));
    client.on('message_ack', (msg: WwebjsMessage, ack: number) => {
      const waMessageId = msg?.id?._serialized;
      if (!waMessageId) return;
      this.noteAck(waMessageId, ack);
      if (ack === ACK_DEVICE) this.emit('ack', { waMessageId, status: 'delivered' });
      else if (ack === ACK_READ || ack === ACK_PLAYED)
        this.emit('ack', { waMessageId, status: 'read' });
      else if (ack === ACK_ERROR) this.emit('ack', { waMessageId, status: 'failed' });
    });
  }

  private onDisconnected(reason: string): void {
    this.ready = false;
    const account = ACCOUNT_REASONS[reason];
    if (account) {
      // After LOGOUT whatsapp-web.js shows a fresh QR in the same browser: keep it running.
      this.emit('state', {
        status: account.status,
        error: { code: account.code, message: account.message },
      });
      return;
    }
    const code = reason === 'CONFLICT' ? SessionErrorCode.Conflict : 'DISCONNECTED';
    const text =
      reason === 'CONFLICT'
        ? 'disconnected: CONFLICT (WhatsApp Web was opened for this account elsewhere)'
        : `disconnected: ${reason}`;
    this.lose(new SessionDriverError(code, 'session', text));
  }

  /** Resolves when the client exposes its browser, its initialize() settles, or at the deadline. */
  private async untilLaunched(client: WwebjsClient, initializing: Promise<void>): Promise<void> {
    let settled = false;
    const done = initializing.then(
      () => (settled = true),
      () => (settled = true),
    );
    const deadline = Date.now() + this.opts.startTimeoutMs;
    while (!settled && !client.pupBrowser && Date.now() < deadline) {
      await Promise.race([done, new Promise((r) => setTimeout(r, 25))]);
    }
  }

  private async watchWhenLaunched(client: WwebjsClient): Promise<void> {
    const deadline = Date.now() + this.opts.startTimeoutMs;
    while (!client.pupBrowser || !client.pupPage) {
      if (this.terminated || this.client !== client || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    this.browserPid = client.pupBrowser.process()?.pid ?? null;
    this.unwatch = watchBrowser(
      client.pupBrowser as never,
      client.pupPage as never,
      (code, detail) => {
        const errCode =
          code === 'BROWSER_CRASHED'
            ? SessionErrorCode.BrowserCrashed
            : code === 'RENDERER_CRASHED'
              ? SessionErrorCode.OutOfMemory
              : SessionErrorCode.SessionClosed;
        this.lose(new SessionDriverError(errCode, 'session', detail));
      },
    );
  }

  /** Reports the loss once; the supervisor decides what to do. */
  private lose(err: SessionDriverError): void {
    if (this.terminated) return;
    this.terminated = true;
    this.ready = false;
    this.unwatch?.();
    this.abortAckWaiters(err.code);
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
    this.abortAckWaiters(SessionErrorCode.SessionClosed);
    this.unwatch?.();
    this.unwatch = null;
    const client = this.client;
    this.client = null;
    if (client && this.launching) await this.launching;
    const pid = this.browserPid ?? client?.pupBrowser?.process()?.pid ?? null;
    if (client) await bounded(client.destroy(), 10000).catch(() => undefined);
    if (pid) killProcessTree(pid);
    this.browserPid = null;
    for (const stray of pidsUsingProfile(this.opts.profileDir)) killProcessTree(stray);
  }

  /** Resolves once the server has the message (ack >= 1); ack -1 is a refused send. */
  private serverAck(waMessageId: string, known: number | undefined): Promise<void> {
    const ack = Math.max(known ?? ACK_PENDING, this.seenAcks.get(waMessageId) ?? -2);
    if (ack >= ACK_SERVER) return Promise.resolve();
    if (ack === ACK_ERROR || this.seenAcks.get(waMessageId) === ACK_ERROR) {
      return Promise.reject(refusedByServer());
    }
    const timeoutMs = this.opts.serverAckTimeoutMs ?? 120000;
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        waMessageId,
        settle: (value: number | Error) => {
          clearTimeout(timer);
          this.ackWaiters.delete(waiter);
          if (value instanceof Error) reject(value);
          else if (value === ACK_ERROR) reject(refusedByServer());
          else resolve();
        },
      };
      const timer = setTimeout(
        () =>
          waiter.settle(
            new SessionDriverError(
              SessionErrorCode.UnknownOutcome,
              'unknown_outcome',
              `the message is in WhatsApp Web's local store but the server did not take it (no ack) within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      this.ackWaiters.add(waiter);
    });
  }

  private noteAck(waMessageId: string, ack: number): void {
    const prev = this.seenAcks.get(waMessageId);
    if (ack === ACK_ERROR || prev === undefined || ack > prev) this.seenAcks.set(waMessageId, ack);
    trim(this.seenAcks, 2000);
    if (ack === ACK_ERROR || ack >= ACK_SERVER) {
      for (const w of [...this.ackWaiters]) if (w.waMessageId === waMessageId) w.settle(ack);
    }
  }

  private rememberSent(waMessageId: string, messageId: string): void {
    this.sentIds.set(waMessageId, messageId);
    trim(this.sentIds, 2000);
  }

  /** The page died under a send waiting for its ack: whether the server took it is unknown. */
  private abortAckWaiters(code: string): void {
    for (const w of [...this.ackWaiters]) {
      w.settle(
        new SessionDriverError(
          code,
          'unknown_outcome',
          'the session was lost before the server acknowledged the message',
        ),
      );
    }
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

interface ExpectedContent {
  /** Text of a text message; caption of a media message ('' = none). */
  body: string;
  media: { mimetype?: string; size?: number; filehash?: string } | null;
}

/** What a sent copy of this content looks like (as send() builds it). */
function expectedContent(content: MessageContent): ExpectedContent {
  if (!content.media) return { body: content.text ?? '', media: null };
  const { base64, mimetype } = content.media;
  let size: number | undefined;
  let filehash: string | undefined;
  if (base64) {
    const data = Buffer.from(base64, 'base64');
    size = data.length;
    // WhatsApp's filehash: base64 SHA-256 of the plain file.
    filehash = createHash('sha256').update(data).digest('base64');
  }
  return {
    body: content.media.caption ?? content.text ?? '',
    media: { mimetype, size, filehash },
  };
}

function contentMatches(m: WwebjsMessage, expected: ExpectedContent): boolean {
  // whatsapp-web.js puts a media message's caption in `body`.
  if ((m.body ?? '') !== expected.body) return false;
  if (!expected.media) return m.hasMedia !== true;
  if (m.hasMedia !== true) return false;
  const want = expected.media;
  const got = m._data ?? {};
  if (want.mimetype && got.mimetype) {
    // WhatsApp Web re-encodes photos (a PNG can leave as a JPEG): for images, the kind must
    // match; size and hash are only compared for files sent as they are.
    const image = want.mimetype.startsWith('image/');
    if (image) return got.mimetype.startsWith('image/');
    if (want.mimetype !== got.mimetype) return false;
  }
  if (want.filehash && got.filehash) return want.filehash === got.filehash;
  if (want.size !== undefined && got.size !== undefined) return want.size === got.size;
  return true;
}

function refusedByServer(): SessionDriverError {
  return new SessionDriverError(
    SessionErrorCode.AckError,
    'retryable',
    'WhatsApp refused the message (ack -1)',
  );
}

/** Keeps a map to its newest `max` entries (insertion order). */
function trim(map: Map<string, unknown>, max: number): void {
  while (map.size > max) map.delete(map.keys().next().value as string);
}

function isoFromSeconds(seconds: number | undefined): string {
  return new Date(seconds ? seconds * 1000 : Date.now()).toISOString();
}

/** Races a promise against a deadline (whatsapp-web.js has calls that never settle). */
function bounded<T>(
  promise: Promise<T>,
  ms: number,
  what: () => string = () => `timed out after ${ms} ms`,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(what())), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export { ACCOUNT_REASONS };
