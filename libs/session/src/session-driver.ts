import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/core';
import type { MessageContent } from '@app/queue';
import type { DriverName, Fault, SessionStatus } from './session.types';
import type { WwebjsClientFactory } from './drivers/wwebjs/wwebjs-client';
import type { MediaLimits } from './media';
import type { DownloadedMedia, IncomingMessage, SimulatedIncoming } from './incoming';
import { NotSupportedError, type SessionDriverError } from './session.errors';

/** Structured logger a driver writes to; the worker binds the session id. */
export interface DriverLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface OutgoingMessage {
  messageId: string;
  chatId: string;
  content: MessageContent;
  contentHash: string;
  /** When this attempt began: reconciliation only considers messages sent after it. */
  attemptStartedAt: number;
}

export interface SendResult {
  waMessageId: string;
  /** ISO-8601 instant the message left. */
  at: string;
}

/** A message found among the sent ones by {@link SessionDriver.findSent}. */
export interface FoundMessage extends SendResult {
  /**
   * The server's ack when the driver knows it (whatsapp-web.js: 0 = still in WhatsApp Web's
   * local store, >= 1 = the server has it).
   */
  ack?: number;
  /**
   * True when the message sits in the local store and has not reached the server yet: it is
   * neither sent nor safe to resend while that store can still send it.
   */
  pending?: boolean;
}

export interface FindSentOptions {
  /**
   * True for a WhatsApp id already recorded for another of our messages: such a message is
   * never claimed, however alike (two identical texts to one chat within seconds).
   */
  isClaimed?: (waMessageId: string) => Promise<boolean>;
}

export interface NumberCheck {
  chatId: string;
  onWhatsApp: boolean;
}

export interface ProbeResult {
  /** The WhatsApp Web state (`CONNECTED`, `OPENING`, `TIMEOUT`, …). */
  state: string;
  /** Memory of the browser process tree, when the driver has one. */
  memoryMb?: number;
}

/** A status change the driver observed (qr shown, authenticated, ready, logged out…). */
export interface DriverStateEvent {
  status: SessionStatus;
  qr?: string;
  phone?: string;
  error?: { code: string; message: string };
}

export type AckStatus = 'delivered' | 'read' | 'failed';

export interface AckEvent {
  waMessageId: string;
  status: AckStatus;
}

export interface DriverEvents {
  /** Lifecycle progress. */
  state: [DriverStateEvent];
  /** The session is gone (browser crash, detached frame, conflict…): recovery is needed. */
  lost: [SessionDriverError];
  /** Delivery receipts of sent messages. */
  ack: [AckEvent];
  /**
   * A message someone sent to the account (not our own sends, not status updates or system
   * notices). May repeat after a reconnect: the worker records each WhatsApp id once.
   */
  incoming: [IncomingMessage];
}

/** Process-wide settings of the wwebjs driver (the worker's configuration). */
export interface WwebjsSettings {
  /** CHROMIUM_PATH */
  chromiumPath: string;
  /** CHROMIUM_ARGS: replaces the container flag profile when set. */
  chromiumArgsOverride?: string;
  /** CHROMIUM_EXTRA_ARGS: appended to the profile (or to CHROMIUM_ARGS when set). */
  chromiumExtraArgs?: string;
  /** SESSION_DATA_DIR: where browser profiles live. */
  sessionDataDir: string;
  /** SESSION_STORE: `local` (LocalAuth on disk) or `redis` (RemoteAuth, portable). */
  sessionStore: 'local' | 'redis';
  /** WWEBJS_START_TIMEOUT_MS */
  startTimeoutMs: number;
  /**
   * Makes the whatsapp-web.js Client (default: the real one). The seam where WhatsApp itself
   * is replaced in tests, the only part that cannot run here.
   */
  clientFactory?: WwebjsClientFactory;
}

export interface DriverContext {
  sessionId: string;
  /** A connection the driver may use for its own state (not a blocking one). */
  redis: Redis;
  keys: RedisKeys;
  logger: DriverLogger;
  /** Settings of the real driver; absent where only the simulator runs. */
  wwebjs?: WwebjsSettings;
  /**
   * Limits of media (MEDIA_MAX_BYTES, MEDIA_FETCH_TIMEOUT_MS, MEDIA_ALLOW_PRIVATE), the same for
   * every driver: bad media fails the same way whichever driver sends it. Default MEDIA_DEFAULTS.
   */
  media?: MediaLimits;
  /** The session's lease as this worker holds it: writes that must be fenced check it. */
  fence?: { key: string; value: string };
}

/**
 * One WhatsApp account, driven by one engine. The worker talks to every engine through this
 * class only, and cannot tell them apart except by `name`.
 *
 * A driver instance lives for one run of the session: after `lost` or `stop()` it is dead, and
 * the supervisor makes a new one.
 */
export abstract class SessionDriver extends EventEmitter<DriverEvents> {
  abstract readonly name: DriverName;

  /** Begins the lifecycle; progress arrives as `state` events. Resolves once started. */
  abstract start(): Promise<void>;

  /** Ends this run. With `logout` the linked device is also removed. Never throws. */
  abstract stop(opts?: { logout?: boolean }): Promise<void>;

  /** Sends one message; throws a SessionDriverError that says how to handle the failure. */
  abstract send(message: OutgoingMessage): Promise<SendResult>;

  /**
   * Did this message already go out (an earlier attempt whose outcome is unknown)? Looks in
   * `message.chatId` for a message with this content sent after `attemptStartedAt`, skipping
   * ids `opts.isClaimed` says belong to another message.
   */
  abstract findSent(message: OutgoingMessage, opts?: FindSentOptions): Promise<FoundMessage | null>;

  /** A cheap liveness check; rejects when the session is not usable. */
  abstract probe(): Promise<ProbeResult>;

  abstract checkNumber(chatId: string): Promise<NumberCheck>;

  /** Link by phone number instead of QR. */
  abstract requestPairingCode(phone: string): Promise<string>;

  /**
   * Recovery step 2: restart the WhatsApp client in the same browser and profile (a new page,
   * the saved auth). Rejects when the browser itself is gone: the supervisor then relaunches.
   * Progress arrives as `state` events, as after start().
   */
  restartClient(): Promise<void> {
    return Promise.reject(new NotSupportedError(this.name, 'restarting the client in place'));
  }

  /**
   * Unlinks the device from the account (the phone's "Linked devices" loses it), while the
   * session runs. Rejects when it cannot be done (not connected): the caller reports that.
   */
  logout(): Promise<void> {
    return Promise.reject(new NotSupportedError(this.name, 'logging out'));
  }

  /**
   * The media of an incoming message, fetched now, at most MEDIA_MAX_BYTES. Throws a
   * SessionDriverError: INCOMING_MESSAGE_NOT_FOUND, NO_MEDIA, MEDIA_TOO_LARGE (permanent),
   * MEDIA_UNAVAILABLE (WhatsApp could not give it now), or a session failure.
   */
  downloadIncomingMedia(waMessageId: string): Promise<DownloadedMedia> {
    void waMessageId;
    return Promise.reject(new NotSupportedError(this.name, 'downloading incoming media'));
  }

  /**
   * Sandbox: receives a message as if someone had sent it, emits it as `incoming` and resolves
   * with it. Only the simulator has it.
   */
  simulateIncoming(input: SimulatedIncoming): Promise<IncomingMessage> {
    void input;
    return Promise.reject(new NotSupportedError(this.name, 'simulated incoming messages'));
  }

  /** Fault injection: only the simulator has it. */
  injectFault(fault: Fault): Promise<void> {
    return Promise.reject(new NotSupportedError(this.name, `fault "${fault.type}"`));
  }
}
