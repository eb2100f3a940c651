import { comparePositions, isStreamPosition } from './stream-position';

describe('stream positions', () => {
  it('takes what Redis writes as an entry id, and 0-0', () => {
    for (const ok of ['0-0', '1767225600000-0', '1767225600000-17', '18446744073709551615-1'])
      expect(isStreamPosition(ok)).toBe(true);
  });

  it('refuses anything else (leading zeros too: positions compare as digit strings)', () => {
    for (const bad of [
      '',
      '1767225600000',
      '1767225600000-',
      '-1',
      '1-2-3',
      '01-0',
      '1-01',
      'abc',
      '1767225600000-0 ',
      '18446744073709551616-0',
      '1-18446744073709551616',
      '$',
      '+',
    ])
      expect(isStreamPosition(bad)).toBe(false);
  });

  it('orders by time, then sequence, numerically', () => {
    expect(comparePositions('9-0', '10-0')).toBeLessThan(0);
    expect(comparePositions('10-0', '9-5')).toBeGreaterThan(0);
    expect(comparePositions('10-2', '10-10')).toBeLessThan(0);
    expect(comparePositions('10-10', '10-10')).toBe(0);
    expect(comparePositions('0-0', '1-0')).toBeLessThan(0);
  });
});
