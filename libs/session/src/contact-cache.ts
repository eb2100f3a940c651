/**
 * How a cached number check is stored (key `RedisKeys.contact`): `c:<canonical chat id>` when
 * the number is on WhatsApp, `0` when it is not. WhatsApp's canonical id can differ from the
 * dialled one (Brazil's ninth digit, Mexico's `1`), and a cached answer must name the same chat
 * a fresh check would. A bare `1` (written before the id was kept) counts as not cached.
 */
export function encodeNumberCheck(check: { chatId: string; onWhatsApp: boolean }): string {
  return check.onWhatsApp ? `c:${check.chatId}` : '0';
}

export function decodeNumberCheck(
  dialled: string,
  cached: string | null,
): { chatId: string; onWhatsApp: boolean } | null {
  if (cached === '0') return { chatId: dialled, onWhatsApp: false };
  if (cached?.startsWith('c:')) return { chatId: cached.slice(2), onWhatsApp: true };
  return null;
}
