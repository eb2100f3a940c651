import type { IncomingMessage } from '../../incoming';
import { isoFromSeconds } from './reconciliation';
import type { WwebjsMessage } from './wwebjs-client';

/**
 * whatsapp-web.js's `message` event in the driver contract's words: which received messages
 * are messages someone sent the account, and what they say. A pure function, so what is
 * skipped and what is mapped reads (and is tested) in one place.
 *
 * Only `message` is mapped, never `message_create`: that one also fires for every message this
 * account sends, ours included (Client.js `onAddMessageEvent` emits it before the `fromMe`
 * check), so it would turn our own sends into `message.received`. Messages the owner types on
 * the phone are outgoing, not received; the send path already reports ours.
 */

/**
 * Types whatsapp-web.js delivers through `message` that are not something a person sent:
 * security-code changes, group and call notices, undecrypted or revoked placeholders, protocol
 * housekeeping. A type not listed is mapped (a new kind of content is better seen than lost).
 */
export const SYSTEM_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  'e2e_notification',
  'notification',
  'notification_template',
  'gp2',
  'group_notification',
  'call_log',
  'protocol',
  'ciphertext',
  'revoked',
  'broadcast_notification',
  'debug',
  'reaction',
]);

/** The incoming message `msg` is, or null when it is not one someone sent the account. */
export function incomingFromWwebjs(msg: WwebjsMessage): IncomingMessage | null {
  const waMessageId = msg?.id?._serialized;
  if (!waMessageId) return null;
  if (msg.fromMe || msg.id.fromMe) return null;
  const chatId = msg.from ?? msg.id.remote;
  if (!chatId) return null;
  // Status updates (`status@broadcast`) and channel posts (`…@newsletter`) are not messages to
  // the account; broadcast lists reach their recipients as ordinary chats.
  if (msg.isStatus || chatId.endsWith('@broadcast') || chatId.endsWith('@newsletter')) return null;
  const type = msg.type ?? 'chat';
  if (SYSTEM_MESSAGE_TYPES.has(type)) return null;
  const isGroup = chatId.endsWith('@g.us');
  const sender = isGroup ? (msg.author ?? msg.id.participant ?? chatId) : chatId;
  const data = msg._data ?? {};
  return {
    waMessageId,
    from: phoneOf(sender),
    chatId,
    senderName: data.notifyName || null,
    // whatsapp-web.js puts a media message's caption in `body`.
    text: msg.body || null,
    type,
    media: msg.hasMedia
      ? {
          mimetype: data.mimetype || 'application/octet-stream',
          filename: data.filename || null,
          size: typeof data.size === 'number' ? data.size : null,
        }
      : null,
    timestamp: isoFromSeconds(msg.timestamp),
    isGroup,
  };
}

/**
 * A sender's phone number when WhatsApp addresses them by phone (`<digits>@c.us`); otherwise
 * the id as given (`…@lid`): mapping a LID to a phone is a lookup reported to raise ban risk
 * when done for every message (wwebjs#4001), so it is left to whoever needs it.
 */
function phoneOf(id: string): string {
  const phone = /^(\d+)@c\.us$/.exec(id);
  return phone ? phone[1] : id;
}
