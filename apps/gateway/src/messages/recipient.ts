import { Metadata, parsePhoneNumberFromString, type MetadataJson } from 'libphonenumber-js/core';
import maxMetadata from 'libphonenumber-js/metadata.max.json';

/**
 * The full ("max") metadata, with each calling code that several countries share narrowed to
 * its main country (+1 to US, +44 to GB, +7 to RU...). libphonenumber-js parses an international
 * number with the calling code's main plan (national number and all), then looks for the exact
 * country among those sharing the code, testing the number against each one's patterns: most of
 * what it costs per number (the gateway's profile: a tenth of a bulk's CPU). The country it
 * finds changes one thing we read: which country's possible lengths `isPossible` checks.
 * `parseFast` skips that search, so it is used only where the answer cannot depend on it
 * (`LENGTH_DEPENDS_ON_COUNTRY`); else the full parse decides, as before.
 */
const MAIN_COUNTRY_ONLY: MetadataJson = {
  ...maxMetadata,
  country_calling_codes: Object.fromEntries(
    Object.entries(maxMetadata.country_calling_codes).map(([code, countries]) => [
      code,
      countries.slice(0, 1),
    ]),
  ),
};

/**
 * For each shared calling code, the national number lengths some of its countries accept and
 * others do not (e.g. 7 for +1: Canada's plan has it, the others' do not).
 */
const LENGTH_DEPENDS_ON_COUNTRY = new Map<string, Set<number>>(
  Object.entries(maxMetadata.country_calling_codes)
    .filter(([, countries]) => countries.length > 1)
    .map(([code, countries]) => {
      const metadata = new Metadata(maxMetadata);
      const lengths = countries.map((country) => {
        metadata.selectNumberingPlan(country);
        return new Set(
          (metadata as unknown as { possibleLengths(): number[] | undefined }).possibleLengths(),
        );
      });
      const differ = new Set<number>();
      for (const set of lengths)
        for (const n of set) if (lengths.some((other) => !other.has(n))) differ.add(n);
      return [code, differ];
    }),
);

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
  const number = possibleNumber(`+${digits}`);
  return number ? `${number.slice(1)}@c.us` : null;
}

/**
 * The E.164 form of an international number if libphonenumber-js finds it possible, else null:
 * the same verdict and number as `parsePhoneNumberFromString` with the max metadata followed by
 * `isPossible()` (recipient.spec.ts compares the two over many numbers).
 */
function possibleNumber(international: string): string | null {
  // A parse fails (bad calling code, too short or long) before any country is looked for.
  const fast = parsePhoneNumberFromString(international, MAIN_COUNTRY_ONLY);
  if (!fast) return null;
  const phone = LENGTH_DEPENDS_ON_COUNTRY.get(fast.countryCallingCode)?.has(
    fast.nationalNumber.length,
  )
    ? parsePhoneNumberFromString(international, maxMetadata)
    : fast;
  return phone?.isPossible() ? phone.number : null;
}
