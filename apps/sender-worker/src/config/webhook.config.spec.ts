import { randomBytes } from 'node:crypto';
import { ConfigError, EnvReader } from '@app/core';
import { DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS } from '@app/queue';
import { readWebhookSettings } from './webhook.config';

const secret = (bytes: number) => `whsec_${randomBytes(bytes).toString('base64')}`;
const read = (env: NodeJS.ProcessEnv) => readWebhookSettings(new EnvReader(env));
const refusal = (env: NodeJS.ProcessEnv): string => {
  try {
    read(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).variable;
  }
  throw new Error('accepted');
};

describe('webhook settings (WEBHOOK_*)', () => {
  it('has defaults: no global endpoint, the standard schedule, 15 s timeout, 16 at once', () => {
    expect(read({})).toEqual({
      global: null,
      allowPrivate: false,
      timeoutMs: 15000,
      retryScheduleMs: [...DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS],
      concurrency: 16,
      lockMs: 30000,
    });
  });

  it('reads a global endpoint with its secret and event filter', () => {
    const s = secret(32);
    const settings = read({
      WEBHOOK_URL: 'https://hooks.example.com/wa?token=1',
      WEBHOOK_SECRET: s,
      WEBHOOK_EVENTS: 'message.status,session.status',
    });
    expect(settings.global).toEqual({
      url: 'https://hooks.example.com/wa?token=1',
      secret: s,
      events: ['message.status', 'session.status'],
    });
  });

  it('requires a whsec_ secret of 24 to 64 bytes with WEBHOOK_URL, and never echoes it', () => {
    const url = 'https://hooks.example.com/wa';
    expect(refusal({ WEBHOOK_URL: url })).toBe('WEBHOOK_SECRET');
    expect(refusal({ WEBHOOK_URL: url, WEBHOOK_SECRET: secret(16) })).toBe('WEBHOOK_SECRET');
    expect(refusal({ WEBHOOK_URL: url, WEBHOOK_SECRET: secret(65) })).toBe('WEBHOOK_SECRET');
    expect(refusal({ WEBHOOK_URL: url, WEBHOOK_SECRET: 'plain-secret-long-enough-123' })).toBe(
      'WEBHOOK_SECRET',
    );
    expect(
      refusal({ WEBHOOK_URL: url, WEBHOOK_SECRET: 'whsec_not*base64!!!!!!!!!!!!!!!!!!' }),
    ).toBe('WEBHOOK_SECRET');
    expect(() => read({ WEBHOOK_URL: url, WEBHOOK_SECRET: 'whsec_c2hvcnQ=' })).toThrow(
      /^(?!.*c2hvcnQ).*$/,
    );
    expect(read({ WEBHOOK_URL: url, WEBHOOK_SECRET: secret(24) }).global).not.toBeNull();
    expect(read({ WEBHOOK_URL: url, WEBHOOK_SECRET: secret(64) }).global).not.toBeNull();
    expect(refusal({ WEBHOOK_SECRET: secret(32) })).toBe('WEBHOOK_SECRET');
  });

  it('refuses a private or loopback WEBHOOK_URL unless WEBHOOK_ALLOW_PRIVATE', () => {
    const s = secret(32);
    expect(refusal({ WEBHOOK_URL: 'http://127.0.0.1:9000/h', WEBHOOK_SECRET: s })).toBe(
      'WEBHOOK_URL',
    );
    expect(refusal({ WEBHOOK_URL: 'http://169.254.169.254/', WEBHOOK_SECRET: s })).toBe(
      'WEBHOOK_URL',
    );
    expect(refusal({ WEBHOOK_URL: 'ftp://example.com/', WEBHOOK_SECRET: s })).toBe('WEBHOOK_URL');
    expect(
      read({
        WEBHOOK_URL: 'http://127.0.0.1:9000/h',
        WEBHOOK_SECRET: s,
        WEBHOOK_ALLOW_PRIVATE: 'true',
      }).global?.url,
    ).toBe('http://127.0.0.1:9000/h');
  });

  it('checks WEBHOOK_EVENTS and WEBHOOK_RETRY_SCHEDULE_MS', () => {
    expect(refusal({ WEBHOOK_EVENTS: 'message.sent' })).toBe('WEBHOOK_EVENTS');
    expect(read({ WEBHOOK_RETRY_SCHEDULE_MS: '100, 200,300' }).retryScheduleMs).toEqual([
      100, 200, 300,
    ]);
    expect(refusal({ WEBHOOK_RETRY_SCHEDULE_MS: '100,soon' })).toBe('WEBHOOK_RETRY_SCHEDULE_MS');
    expect(refusal({ WEBHOOK_RETRY_SCHEDULE_MS: '0' })).toBe('WEBHOOK_RETRY_SCHEDULE_MS');
  });
});
