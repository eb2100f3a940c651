import { createHash } from 'node:crypto';
import type { MessageContent } from '@app/queue';
import type { WwebjsMessage } from './wwebjs-client';

/**
 * How a message whose send result was lost is recognised among the chat's sent messages: the
 * content it would have (text; media with its caption, mimetype and, where WhatsApp keeps the
 * file as sent, size and hash) and when it was sent. WwebjsDriver.findSent applies it to the
 * chat's recent `fromMe` messages and skips ids claimed by other messages.
 */

export interface ExpectedContent {
  /** Text of a text message; caption of a media message ('' = none). */
  body: string;
  media: { mimetype?: string; size?: number; filehash?: string } | null;
}

/** What a sent copy of this content looks like (as send() builds it). */
export function expectedContent(content: MessageContent): ExpectedContent {
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

export function contentMatches(m: WwebjsMessage, expected: ExpectedContent): boolean {
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

/**
 * Sent messages that could be this attempt's, oldest first: from us, sent after the attempt
 * began (less a few seconds: clocks differ between this host and the phone), with the expected
 * content. `ackOf` gives each its best known ack.
 */
export function candidateMessages(
  recent: WwebjsMessage[],
  content: MessageContent,
  attemptStartedAt: number,
  ackOf: (m: WwebjsMessage) => number,
): { m: WwebjsMessage; ack: number }[] {
  const expected = expectedContent(content);
  const since = attemptStartedAt / 1000 - 5;
  return recent
    .filter((m) => (m.fromMe ?? m.id.fromMe) !== false)
    .filter((m) => (m.timestamp ?? 0) >= since)
    .filter((m) => contentMatches(m, expected))
    .map((m) => ({ m, ack: ackOf(m) }))
    .sort((a, b) => (a.m.timestamp ?? 0) - (b.m.timestamp ?? 0));
}

export function isoFromSeconds(seconds: number | undefined): string {
  return new Date(seconds ? seconds * 1000 : Date.now()).toISOString();
}
