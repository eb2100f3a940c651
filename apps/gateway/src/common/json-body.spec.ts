import { charsetOf, jsonDepthExceeds } from './json-body';

describe('jsonDepthExceeds', () => {
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(jsonDepthExceeds('{"a":[{"b":[1]}]}', 4)).toBe(false);
    expect(jsonDepthExceeds('{"a":[{"b":[1]}]}', 3)).toBe(true);
    expect(jsonDepthExceeds('{"a":"[[[[[[[[[[[[[[["}', 1)).toBe(false);
    expect(jsonDepthExceeds('{"a":"\\"[[[[[[[[[[["}', 1)).toBe(false);
    expect(jsonDepthExceeds('['.repeat(10000), 32)).toBe(true);
    expect(jsonDepthExceeds('[]'.repeat(10000), 1)).toBe(false);
  });
});

describe('charsetOf', () => {
  it('reads the charset parameter, case-insensitively', () => {
    expect(charsetOf('application/json')).toBeUndefined();
    expect(charsetOf('application/json; charset=UTF-16')).toBe('utf-16');
    expect(charsetOf('application/json;charset="utf-8"')).toBe('utf-8');
    expect(charsetOf('application/json; foo=bar; Charset = latin1')).toBe('latin1');
  });
});
