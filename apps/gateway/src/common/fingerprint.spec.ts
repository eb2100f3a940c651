import { requestFingerprint } from './fingerprint';

describe('requestFingerprint', () => {
  it('is the same for the same body in another key order', () => {
    const a = requestFingerprint('POST', '/api/sessions/s/messages', {
      to: '1',
      text: 'x',
      media: { url: 'u', caption: 'c' },
    });
    const b = requestFingerprint('POST', '/api/sessions/s/messages', {
      media: { caption: 'c', url: 'u' },
      text: 'x',
      to: '1',
    });
    expect(a).toBe(b);
  });

  it('differs when the body, the path or the method differs', () => {
    const base = requestFingerprint('POST', '/api/sessions/s/messages', { to: '1', text: 'x' });
    expect(requestFingerprint('POST', '/api/sessions/s/messages', { to: '1', text: 'y' })).not.toBe(
      base,
    );
    expect(requestFingerprint('POST', '/api/sessions/t/messages', { to: '1', text: 'x' })).not.toBe(
      base,
    );
    expect(requestFingerprint('PUT', '/api/sessions/s/messages', { to: '1', text: 'x' })).not.toBe(
      base,
    );
    expect(
      requestFingerprint('POST', '/api/sessions/s/messages', {
        to: '1',
        text: 'x',
        priority: 'high',
      }),
    ).not.toBe(base);
  });

  it('keeps array order significant', () => {
    const a = requestFingerprint('POST', '/b', { messages: [{ t: 1 }, { t: 2 }] });
    const b = requestFingerprint('POST', '/b', { messages: [{ t: 2 }, { t: 1 }] });
    expect(a).not.toBe(b);
  });
});
