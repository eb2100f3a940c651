import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import maxMetadata from 'libphonenumber-js/metadata.max.json';
import { toChatId } from './recipient';

/** toChatId as it was before its parse skipped the country search: the reference verdicts. */
function referenceChatId(to: string): string | null {
  const value = to.trim();
  if (/^\d{5,20}@c\.us$/.test(value)) return value;
  if (/^[\d-]{5,40}@g\.us$/.test(value)) return value;
  if (value.includes('@')) return null;
  if (!/^\+?[\d\s().-]+$/.test(value)) return null;
  const digits = value.replace(/\D/g, '');
  if (digits.length < 7 || digits.length > 15) return null;
  const phone = parsePhoneNumberFromString(`+${digits}`);
  if (!phone || !phone.isPossible()) return null;
  return `${phone.number.slice(1)}@c.us`;
}

/** A small seeded generator (mulberry32): the same numbers on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('toChatId', () => {
  it.each([
    ['15551234567', '15551234567@c.us'],
    ['+1 555 123 4567', '15551234567@c.us'],
    ['+1 (555) 123-4567', '15551234567@c.us'],
    ['+44 20 7946 0958', '442079460958@c.us'],
    ['4915112345678', '4915112345678@c.us'],
    ['+55 11 91234-5678', '5511912345678@c.us'],
    ['15551234567@c.us', '15551234567@c.us'],
    ['120363040000000000@g.us', '120363040000000000@g.us'],
    ['15551234567-1600000000@g.us', '15551234567-1600000000@g.us'],
  ])('%s → %s', (input, chatId) => {
    expect(toChatId(input)).toBe(chatId);
  });

  it.each([
    '',
    'hello',
    '123',
    '+',
    'abc@c.us',
    'someone@example.com',
    '1555123456789012345',
    '+999 123 456 7890',
    '15551234567@s.whatsapp.net',
  ])('refuses %p', (input) => {
    expect(toChatId(input)).toBeNull();
  });

  it('gives the verdicts and numbers of the full parse, over every calling code and length', () => {
    const random = seeded(13);
    const digits = (n: number) =>
      Array.from({ length: n }, () => Math.floor(random() * 10)).join('');
    const inputs: string[] = [];
    for (const code of Object.keys(maxMetadata.country_calling_codes)) {
      // Every national number length a recipient can have after this code, several times,
      // plus the shared codes' lengths that depend on the country many more times.
      const runs = ['1', '7', '44', '61'].includes(code) ? 200 : 8;
      for (let n = 1; code.length + n <= 16; n++)
        for (let i = 0; i < runs; i++) inputs.push(code + digits(n));
    }
    // Unknown calling codes, numbers with a trunk prefix after the code, and written forms.
    for (let i = 0; i < 3000; i++) inputs.push(digits(5 + Math.floor(random() * 12)));
    for (let i = 0; i < 500; i++) {
      inputs.push(`+44 0${digits(10)}`, `+1 (${digits(3)}) ${digits(3)}-${digits(4)}`);
      inputs.push(`+7 8${digits(10)}`, `+61 0${digits(9)}`, ` +${digits(11)} `);
    }

    let differing = 0;
    let possible = 0;
    for (const input of inputs) {
      const expected = referenceChatId(input);
      if (toChatId(input) !== expected) differing++;
      if (expected) possible++;
    }
    expect(differing).toBe(0);
    // Both verdicts are well represented.
    expect(possible).toBeGreaterThan(inputs.length / 10);
    expect(inputs.length - possible).toBeGreaterThan(inputs.length / 10);
  });
});
