import { Webhook } from 'standardwebhooks';

/*
 * README ("Receiving events": verify a signature in five lines of Node). The five lines below
 * are pasted there verbatim; this spec checks them against the `standardwebhooks` package the
 * worker signs with.
 */
// prettier-ignore
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createHmac, timingSafeEqual } = require('node:crypto');
// prettier-ignore
const verify = (secret: string, h: Record<string, string>, rawBody: string) => {
  const mac = createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`${h['webhook-id']}.${h['webhook-timestamp']}.${rawBody}`).digest();
  const fresh = Math.abs(Date.now() / 1000 - Number(h['webhook-timestamp'])) < 300; // 5 min: no replays of old requests
  return fresh && h['webhook-signature'].split(' ').some((s) => s.startsWith('v1,') && Buffer.from(s.slice(3), 'base64').length === mac.length && timingSafeEqual(Buffer.from(s.slice(3), 'base64'), mac));
};

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const BODY = JSON.stringify({
  id: 'evt_1',
  type: 'message.status',
  session: 'sales',
  timestamp: '2026-05-01T10:00:00.000Z',
  data: { messageId: 'msg_1', status: 'sent', previous: 'sending' },
});

function signedHeaders(at = new Date(), secret = SECRET): Record<string, string> {
  return {
    'webhook-id': 'evt_1',
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign('evt_1', at, BODY),
  };
}

describe('the README signature check', () => {
  it('accepts what the standardwebhooks package signs', () => {
    expect(verify(SECRET, signedHeaders(), BODY)).toBe(true);
  });

  it('accepts one matching signature among several (a secret being rotated)', () => {
    const h = signedHeaders();
    h['webhook-signature'] = `v1,${Buffer.alloc(32).toString('base64')} ${h['webhook-signature']}`;
    expect(verify(SECRET, h, BODY)).toBe(true);
  });

  it('refuses a changed body, another secret, another id, an old timestamp, a bad signature', () => {
    const other = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
    expect(verify(SECRET, signedHeaders(), BODY.replace('sent', 'read'))).toBe(false);
    expect(verify(SECRET, signedHeaders(new Date(), other), BODY)).toBe(false);
    expect(verify(SECRET, { ...signedHeaders(), 'webhook-id': 'evt_2' }, BODY)).toBe(false);
    expect(verify(SECRET, signedHeaders(new Date(Date.now() - 600_000)), BODY)).toBe(false);
    expect(verify(SECRET, { ...signedHeaders(), 'webhook-signature': 'v1,short' }, BODY)).toBe(
      false,
    );
  });
});
