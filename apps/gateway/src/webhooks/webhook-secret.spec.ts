import { randomBytes } from 'node:crypto';
import { ApiError } from '../common/api-error';
import { checkWebhookSecret, generateWebhookSecret } from './webhook-secret';

const secretOf = (bytes: number) => `whsec_${randomBytes(bytes).toString('base64')}`;

describe('webhook secrets', () => {
  it('generates whsec_ + 32 random bytes, different each time, that pass the check', () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).not.toBe(b);
    expect(Buffer.from(a.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(checkWebhookSecret(a)).toBe(a);
  });

  it('accepts keys of 24 to 64 bytes', () => {
    for (const n of [24, 25, 32, 63, 64])
      expect(checkWebhookSecret(secretOf(n))).toMatch(/^whsec_/);
  });

  it.each([
    ['too short', secretOf(23)],
    ['too long', secretOf(65)],
    ['no prefix', randomBytes(32).toString('base64')],
    ['another prefix', `whsec-${randomBytes(32).toString('base64')}`],
    ['base64url alphabet', `whsec_${'-_'.repeat(22)}AA==`],
    ['unpadded', `whsec_${randomBytes(31).toString('base64').replace(/=+$/, '')}`],
    ['empty', 'whsec_'],
  ])('refuses a secret that is %s with 400, without echoing it', (_why, secret) => {
    let thrown: unknown;
    try {
      checkWebhookSecret(secret);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    const e = thrown as ApiError;
    expect([e.getStatus(), e.code]).toEqual([400, 'WEBHOOK_SECRET_INVALID']);
    if (secret.length > 'whsec_'.length) expect(e.message).not.toContain(secret.slice(6));
  });
});
