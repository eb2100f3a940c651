import type { MediaContent } from '@app/queue';
import { SessionDriverError, SessionErrorCode } from './session.errors';

/**
 * Incoming WhatsApp messages as every driver reports them (the driver contract's `incoming`
 * event), and what a driver gives back when asked for one's media. Media is never downloaded
 * when a message arrives: the event carries its metadata, and the bytes are fetched on demand
 * ({@link SessionDriver.downloadIncomingMedia}).
 */

/** What WhatsApp says about an incoming message's media, without its bytes. */
export interface IncomingMedia {
  mimetype: string;
  filename: string | null;
  /** Size in bytes, when WhatsApp gives it. */
  size: number | null;
}

export interface IncomingMessage {
  /** WhatsApp's id of the message (`false_<chat>_<id>[_<participant>]`). */
  waMessageId: string;
  /**
   * The sender: a phone number (digits, country code first) when WhatsApp addresses them by
   * phone, otherwise WhatsApp's own id of the sender (`…@lid`).
   */
  from: string;
  /** The chat it arrived in: the sender's (`…@c.us`, `…@lid`) or a group (`…@g.us`). */
  chatId: string;
  /** The sender's display name (WhatsApp's push name), when given. */
  senderName: string | null;
  /** The text, or a media message's caption; null when there is none. */
  text: string | null;
  /** WhatsApp's message type: `chat`, `image`, `video`, `audio`, `ptt`, `document`, `sticker`, … */
  type: string;
  media: IncomingMedia | null;
  /** When WhatsApp says it was sent (ISO-8601). */
  timestamp: string;
  isGroup: boolean;
}

/** One incoming message's media, fetched on demand. */
export interface DownloadedMedia {
  mimetype: string;
  filename: string | null;
  data: Buffer;
}

/**
 * An incoming message the simulator is told to receive (`POST …/simulator/incoming`), with the
 * media as the sender attached it (loaded by the simulator with the outgoing limits).
 */
export interface SimulatedIncoming {
  waMessageId: string;
  /** The sender's chat id (`<digits>@c.us`). */
  chatId: string;
  text?: string;
  media?: MediaContent;
}

/**
 * A WhatsApp message id as the API accepts it in a path or a body: what whatsapp-web.js
 * serialises (`false_15551234567@c.us_3EB0…`, groups add `_<participant>`), nothing that could
 * escape a Redis key or a URL segment.
 */
export const WA_MESSAGE_ID_PATTERN = /^[A-Za-z0-9_.@:-]{1,256}$/;

/** The typed errors of {@link SessionDriver.downloadIncomingMedia}, the same on every driver. */
export function incomingNotFound(waMessageId: string): SessionDriverError {
  return new SessionDriverError(
    SessionErrorCode.IncomingNotFound,
    'permanent',
    `no incoming message ${waMessageId} in this session`,
  );
}

export function incomingWithoutMedia(waMessageId: string): SessionDriverError {
  return new SessionDriverError(
    SessionErrorCode.NoMedia,
    'permanent',
    `incoming message ${waMessageId} has no media`,
  );
}
