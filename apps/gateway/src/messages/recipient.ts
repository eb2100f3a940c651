import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * A recipient as WhatsApp addresses it: a phone number becomes `<digits>@c.us` (E.164 without
 * the +), a chat id (`…@c.us`, `…@g.us`) passes through. Null when it is neither.
 */
export function toChatId(to: string): string | null {
  const value = to.trim();
  if (/^\d{5,20}@c\.us$/.test(value)) return value;
  if (/^[\d-]{5,40}@g\.us$/.test(value)) return value;
  if (value.includes('@')) return null;
  if (!/^\+?[\d\s().-]+$/.test(value)) return null;
  const digits = value.replace(/\D/g, '');
  if (digits.length < 7 || digits.length > 15) return null;
  // Numbers are international (country code first), with or without the +.
  const phone = parsePhoneNumberFromString(`+${digits}`);
  if (!phone || !phone.isPossible()) return null;
  return `${phone.number.slice(1)}@c.us`;
}
