import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/core';
import {
  decodeNumberCheck,
  encodeNumberCheck,
  type NumberCheck,
  type SessionDriver,
} from '@app/session';

const ON_WHATSAPP_TTL_S = 7 * 24 * 3600;
const NOT_ON_WHATSAPP_TTL_S = 24 * 3600;

/**
 * "Is this number on WhatsApp?", cached in Redis per session. Bulk number checks are a known
 * ban trigger, so each recipient is asked about once a week at most.
 *
 * The cache holds WhatsApp's canonical chat id, which can differ from the dialled one (Brazil's
 * ninth digit, Mexico's `1`): a cached answer must send, and reconcile, in the same chat as a
 * fresh one (`contact-cache.ts`).
 */
export class NumberChecker {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /**
   * `cached`: the answer of {@link cachedCheck} read earlier in the same send (null: not
   * cached); undefined reads the cache now.
   */
  async check(
    sessionId: string,
    chatId: string,
    driver: SessionDriver,
    cached?: NumberCheck | null,
  ): Promise<NumberCheck> {
    if (!chatId.endsWith('@c.us')) return { chatId, onWhatsApp: true };
    const key = this.keys.contact(sessionId, chatId);
    const known = cached === undefined ? await this.cachedCheck(sessionId, chatId) : cached;
    if (known) return known;
    const result = await driver.checkNumber(chatId);
    await this.redis.set(
      key,
      encodeNumberCheck(result),
      'EX',
      result.onWhatsApp ? ON_WHATSAPP_TTL_S : NOT_ON_WHATSAPP_TTL_S,
    );
    return result;
  }

  /** The cached answer alone (no driver call); null when the number is not cached. */
  async cachedCheck(sessionId: string, chatId: string): Promise<NumberCheck | null> {
    if (!chatId.endsWith('@c.us')) return { chatId, onWhatsApp: true };
    return decodeNumberCheck(chatId, await this.redis.get(this.keys.contact(sessionId, chatId)));
  }
}
