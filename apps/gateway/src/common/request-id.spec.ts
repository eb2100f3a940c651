import { pathOf, requestIdOf } from './request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('requestIdOf', () => {
  it('keeps a sane caller id', () => {
    expect(requestIdOf('abc-123')).toBe('abc-123');
    expect(requestIdOf('A.b_C-9')).toBe('A.b_C-9');
    expect(requestIdOf('x'.repeat(64))).toBe('x'.repeat(64));
  });

  it('replaces a missing, empty, long, repeated or odd one with a fresh UUID', () => {
    for (const bad of [
      undefined,
      '',
      'x'.repeat(65),
      ['a', 'b'],
      'has space',
      'line\nbreak',
      'quote"',
      'ünicode',
      '{"json":1}',
    ]) {
      expect(requestIdOf(bad)).toMatch(UUID);
    }
    expect(requestIdOf(undefined)).not.toBe(requestIdOf(undefined));
  });
});

describe('pathOf', () => {
  it('drops the query string', () => {
    expect(pathOf('/api/sessions/a?logout=true')).toBe('/api/sessions/a');
    expect(pathOf('/api/health')).toBe('/api/health');
    expect(pathOf(undefined)).toBeUndefined();
  });
});
