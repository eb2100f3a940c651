import { randomBytes } from 'node:crypto';
import {
  SessionDriver,
  type DriverContext,
  type NumberCheck,
  type OutgoingMessage,
  type ProbeResult,
  type SendResult,
} from '../../session-driver';
import { SessionDriverError, SessionErrorCode } from '../../session.errors';
import type { Fault, FaultType, SimulatorOptions } from '../../session.types';
import { loadMedia, MEDIA_DEFAULTS } from '../../media';
import {
  incomingNotFound,
  incomingWithoutMedia,
  type DownloadedMedia,
  type IncomingMessage,
  type SimulatedIncoming,
} from '../../incoming';
import { SimulatorDevice } from './simulator-device';
import { SimulatorInbox } from './simulator-inbox';
import { SimulatorOutbox } from './simulator-outbox';

type Phase =
  'idle' | 'starting' | 'qr' | 'authenticating' | 'ready' | 'logged_out' | 'dead' | 'stopped';

/**
 * For each fault, the signal whatsapp-web.js / Chromium give for that failure: the error code
 * the real driver's classifier produces and the text the libraries really use.
 */
const CRASHES: Record<
  Exclude<FaultType, 'logout' | 'hang'>,
  { code: SessionErrorCode; text: string }
> = {
  'browser-crash': {
    code: SessionErrorCode.BrowserCrashed,
    text: 'Protocol error (Runtime.callFunctionOn): Target closed. (the Chromium process exited)',
  },
  'frame-detached': {
    code: SessionErrorCode.FrameDetached,
    text: 'Attempted to use detached Frame (the page navigated or crashed)',
  },
  'session-closed': {
    code: SessionErrorCode.SessionClosed,
    text: 'Protocol error (Runtime.callFunctionOn): Session closed. Most likely the page has been closed.',
  },
  conflict: {
    code: SessionErrorCode.Conflict,
    text: 'disconnected: CONFLICT (WhatsApp Web was opened for this account elsewhere)',
  },
  'memory-pressure': {
    code: SessionErrorCode.OutOfMemory,
    text: 'Page crashed! (the renderer ran out of memory)',
  },
};

/** After a restart, a linked device goes straight to authenticating; it takes this long. */
const RESTORE_MS = 50;

/**
 * WhatsApp without a phone: a session that links itself, sends with latency, records what it
 * sent in Redis (as WhatsApp's servers would), sends acks, and fails on demand exactly as the
 * real driver reports failures.
 */
export class SimulatorDriver extends SessionDriver {
  readonly name = 'simulator' as const;

  private phase: Phase = 'idle';
  private readonly timers = new Set<NodeJS.Timeout>();
  private hangUntil = 0;
  /** The browser process died: only a relaunch (a new driver) brings the session back. */
  private browserGone = false;
  private readonly hangWaiters = new Set<{ resume: () => void; abort: (err: Error) => void }>();
  private readonly device: SimulatorDevice;
  private readonly outbox: SimulatorOutbox;
  private readonly inbox: SimulatorInbox;
  /** This client, as the device knows it: the latest client to open the session wins. */
  private readonly clientId = randomBytes(8).toString('hex');

  constructor(
    private readonly ctx: DriverContext,
    private readonly options: SimulatorOptions,
  ) {
    super();
    this.device = new SimulatorDevice(ctx.redis, ctx.keys, ctx.sessionId);
    this.outbox = new SimulatorOutbox(ctx.redis, ctx.keys);
    this.inbox = new SimulatorInbox(ctx.redis, ctx.keys, ctx.sessionId);
  }

  async start(): Promise<void> {
    if (this.phase !== 'idle') throw new Error('a driver instance starts once');
    await this.boot();
  }

  override async restartClient(): Promise<void> {
    if (this.phase === 'stopped') throw new Error('the driver was stopped');
    if (this.browserGone) {
      throw new SessionDriverError(
        SessionErrorCode.BrowserCrashed,
        'session',
        'the browser is gone: it must be relaunched',
      );
    }
    // A new page in the same browser: whatever hung or was detached goes with the old one.
    this.clearTimers();
    this.hangUntil = 0;
    this.abortHungCalls(CRASHES['session-closed'].text);
    await this.boot();
  }

  /** Opens WhatsApp Web: straight to authenticating with a linked device, else a QR. */
  private async boot(): Promise<void> {
    const device = await this.device.read();
    if (device.fault && device.faultUntil > Date.now() && device.fault in CRASHES) {
      // The failure persists (a browser that keeps crashing at launch): this start fails.
      const crash = CRASHES[device.fault as keyof typeof CRASHES];
      this.phase = 'dead';
      this.browserGone = device.fault === 'browser-crash';
      throw new SessionDriverError(crash.code, 'session', crash.text);
    }
    if (device.fault) await this.device.clearFault();
    // Opening WhatsApp Web makes this client the device's one; the previous client (another
    // worker's, frozen) is in CONFLICT from now on. Only the lease holder may do it.
    if (!(await this.device.open(this.clientId, this.ctx.fence))) {
      this.phase = 'dead';
      throw new SessionDriverError(
        SessionErrorCode.Conflict,
        'session',
        'another worker holds this session: this client may not open it',
      );
    }
    this.phase = 'starting';
    this.emit('state', { status: 'starting' });
    if (device.linked) {
      this.later(RESTORE_MS, () => this.authenticate());
    } else {
      this.showQr();
    }
  }

  async stop(opts: { logout?: boolean } = {}): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    this.clearTimers();
    this.abortHungCalls(CRASHES['browser-crash'].text);
    if (opts.logout) await this.device.forget().catch(() => undefined);
  }

  override async logout(): Promise<void> {
    this.assertAlive();
    await this.device.forget();
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    this.assertUsable();
    if (message.content.media) {
      // The same loader and limits as the real driver, at the same point (before anything is
      // sent): bad media fails here with the code and failure class it gets on whatsapp-web.js.
      // The simulator records no media, so the loaded bytes are dropped.
      await loadMedia(message.content.media, this.ctx.media ?? MEDIA_DEFAULTS);
    }
    await this.waitOutHang();
    await this.sleepWhileAlive(this.options.sendLatencyMs);
    const number = message.chatId.split('@')[0];
    if (this.options.notOnWhatsApp.includes(number)) {
      throw new SessionDriverError(
        SessionErrorCode.NotOnWhatsApp,
        'permanent',
        `${number} is not on WhatsApp`,
      );
    }
    const at = new Date().toISOString();
    const waMessageId = `true_${message.chatId}_3EB0${randomBytes(8).toString('hex').toUpperCase()}`;
    const recorded = await this.outbox.record(
      this.ctx.sessionId,
      randomBytes(12).toString('hex'),
      {
        messageId: message.messageId,
        waMessageId,
        to: message.chatId,
        text: message.content.text ?? message.content.media?.caption ?? '',
        at,
      },
      this.clientId,
    );
    if (!recorded) {
      // Another client opened the device while this send was in flight (a worker frozen
      // mid-send, adopted by another): WhatsApp refuses it and the old client gets CONFLICT.
      // Not sent; reported as an unknown outcome so the send intent stays for the new owner.
      this.die('conflict');
      throw new SessionDriverError(
        SessionErrorCode.Conflict,
        'unknown_outcome',
        `${CRASHES.conflict.text}: this client was superseded, the message was not sent`,
      );
    }
    this.scheduleAcks(waMessageId);
    return { waMessageId, at };
  }

  async findSent(message: OutgoingMessage): Promise<SendResult | null> {
    const entry = await this.outbox.find(this.ctx.sessionId, message.messageId);
    return entry ? { waMessageId: entry.waMessageId, at: entry.at } : null;
  }

  /**
   * Someone sends the account a message: its media is loaded with the outgoing limits (bad
   * media is refused with the same codes), the simulated servers keep it (a later download
   * answers from there), and it arrives as `incoming`, as whatsapp-web.js's `message` would.
   */
  override async simulateIncoming(input: SimulatedIncoming): Promise<IncomingMessage> {
    this.assertUsable();
    const loaded = input.media
      ? await loadMedia(input.media, this.ctx.media ?? MEDIA_DEFAULTS)
      : null;
    await this.waitOutHang();
    this.assertUsable();
    const text = (input.media ? (input.media.caption ?? input.text) : input.text) ?? null;
    const message: IncomingMessage = {
      waMessageId: input.waMessageId,
      from: input.chatId.split('@')[0],
      chatId: input.chatId,
      senderName: null,
      text: text || null,
      type: loaded ? incomingType(loaded.mimetype) : 'chat',
      media: loaded
        ? { mimetype: loaded.mimetype, filename: loaded.filename ?? null, size: loaded.size }
        : null,
      // WhatsApp's timestamps are whole seconds.
      timestamp: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
      isGroup: false,
    };
    await this.inbox.store(message, loaded ? Buffer.from(loaded.data, 'base64') : null);
    if (this.alive()) this.emit('incoming', message);
    return message;
  }

  override async downloadIncomingMedia(waMessageId: string): Promise<DownloadedMedia> {
    this.assertUsable();
    await this.waitOutHang();
    const found = await this.inbox.find(waMessageId);
    if (!found) throw incomingNotFound(waMessageId);
    if (!found.media) throw incomingWithoutMedia(waMessageId);
    return found.media;
  }

  async probe(): Promise<ProbeResult> {
    this.assertAlive();
    await this.waitOutHang();
    this.assertAlive();
    const state =
      this.phase === 'ready'
        ? 'CONNECTED'
        : this.phase === 'qr' || this.phase === 'logged_out'
          ? 'UNPAIRED'
          : 'OPENING';
    return { state, memoryMb: 0 };
  }

  async checkNumber(chatId: string): Promise<NumberCheck> {
    this.assertUsable();
    await this.waitOutHang();
    const number = chatId.split('@')[0];
    return { chatId, onWhatsApp: !this.options.notOnWhatsApp.includes(number) };
  }

  async requestPairingCode(phone: string): Promise<string> {
    this.assertAlive();
    if (this.phase !== 'qr') {
      throw new SessionDriverError(
        SessionErrorCode.SessionNotReady,
        'permanent',
        'pairing codes are only given while the session waits to be linked',
      );
    }
    void phone;
    const code = randomBytes(4).toString('hex').toUpperCase();
    return `${code.slice(0, 4)}-${code.slice(4)}`;
  }

  override async injectFault(fault: Fault): Promise<void> {
    this.assertAlive();
    const until = fault.durationMs ? Date.now() + fault.durationMs : 0;
    if (fault.type === 'hang') {
      this.hangUntil = until || Number.POSITIVE_INFINITY;
      if (until) this.later(fault.durationMs!, () => this.endHang());
      return;
    }
    if (fault.type === 'logout') {
      await this.device.unlink();
      this.clearTimers();
      // The page navigates away on logout: calls in flight die with it, outcome unknown.
      this.hangUntil = 0;
      this.abortHungCalls(
        'Execution context was destroyed, most likely because of a navigation (LOGOUT)',
      );
      this.phase = 'logged_out';
      this.emit('state', {
        status: 'logged_out',
        error: {
          code: SessionErrorCode.LoggedOut,
          message: 'The device was unlinked from the phone (LOGOUT)',
        },
      });
      // As whatsapp-web.js does after a logout: a fresh QR in the same browser.
      this.later(RESTORE_MS, () => this.showQr());
      return;
    }
    if (until) await this.device.setFault(fault.type, until);
    this.die(fault.type);
  }

  private showQr(): void {
    if (!this.alive()) return;
    this.phase = 'qr';
    const qr = `2@${randomBytes(48).toString('base64')},${randomBytes(32).toString('base64')},${randomBytes(32).toString('base64')},${randomBytes(16).toString('base64')}`;
    this.emit('state', { status: 'qr', qr });
    this.later(this.options.linkAfterMs, () => {
      void this.device
        .link(this.options.phone, this.clientId)
        .then(() => this.authenticate())
        .catch((err: unknown) => this.ctx.logger.warn({ err }, 'simulator could not link'));
    });
  }

  private authenticate(): void {
    if (!this.alive()) return;
    this.phase = 'authenticating';
    this.emit('state', { status: 'authenticating' });
    this.later(RESTORE_MS, () => {
      if (!this.alive()) return;
      this.phase = 'ready';
      this.emit('state', { status: 'ready', phone: this.options.phone });
    });
  }

  private die(type: keyof typeof CRASHES): void {
    const crash = CRASHES[type];
    this.phase = 'dead';
    this.browserGone = type === 'browser-crash';
    this.clearTimers();
    this.abortHungCalls(crash.text);
    this.emit('lost', new SessionDriverError(crash.code, 'session', crash.text));
  }

  private scheduleAcks(waMessageId: string): void {
    const { deliveredAfterMs, readAfterMs } = this.options;
    if (deliveredAfterMs >= 0) {
      this.later(deliveredAfterMs, () => this.emit('ack', { waMessageId, status: 'delivered' }));
    }
    if (readAfterMs >= 0) {
      this.later(Math.max(readAfterMs, deliveredAfterMs), () =>
        this.emit('ack', { waMessageId, status: 'read' }),
      );
    }
  }

  private alive(): boolean {
    return this.phase !== 'dead' && this.phase !== 'stopped';
  }

  private assertAlive(): void {
    if (!this.alive()) {
      throw new SessionDriverError(
        SessionErrorCode.SessionClosed,
        'session',
        CRASHES['session-closed'].text,
      );
    }
  }

  private assertUsable(): void {
    this.assertAlive();
    if (this.phase !== 'ready') {
      throw new SessionDriverError(
        SessionErrorCode.SessionNotReady,
        'session',
        `session is ${this.phase}, not ready`,
      );
    }
  }

  /** A frozen page: calls wait until the hang ends; a crash or stop ends them with its error. */
  private waitOutHang(): Promise<void> {
    if (this.hangUntil <= Date.now()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resume: () => {
          this.hangWaiters.delete(waiter);
          resolve();
        },
        abort: (err: Error) => {
          this.hangWaiters.delete(waiter);
          reject(err);
        },
      };
      this.hangWaiters.add(waiter);
    });
  }

  private endHang(): void {
    this.hangUntil = 0;
    for (const w of [...this.hangWaiters]) w.resume();
  }

  private abortHungCalls(text: string): void {
    // The page died under a call in flight: whether it took effect is unknown.
    const err = new SessionDriverError(SessionErrorCode.UnknownOutcome, 'unknown_outcome', text);
    for (const w of [...this.hangWaiters]) w.abort(err);
  }

  /** Waits `ms`; if the session dies meanwhile, rejects as a real send cut off would. */
  private sleepWhileAlive(ms: number): Promise<void> {
    // Zero latency (benchmarks) means none: setTimeout(0) would still wait a timer tick
    // (about 1 ms, a third of a drained message's time). Nothing can die in zero time.
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resume: () => undefined,
        abort: (err: Error) => {
          clearTimeout(timer);
          this.hangWaiters.delete(waiter);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.hangWaiters.delete(waiter);
        if (this.alive()) resolve();
        else
          reject(
            new SessionDriverError(
              SessionErrorCode.UnknownOutcome,
              'unknown_outcome',
              CRASHES['session-closed'].text,
            ),
          );
      }, ms);
      this.hangWaiters.add(waiter);
    });
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** WhatsApp's message type for media of this mimetype, as a phone would send it. */
function incomingType(mimetype: string): string {
  const kind = mimetype.split('/')[0];
  if (kind === 'image' || kind === 'video' || kind === 'audio') return kind;
  return 'document';
}
