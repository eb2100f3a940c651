import { randomBytes } from 'node:crypto';
import { ApiError } from '../common/api-error';

const PREFIX = 'whsec_';
/** Key sizes Standard Webhooks allows (bytes): 24 to 64. */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A new signing secret: `whsec_` + 32 random bytes in base64, as Standard Webhooks makes them. */
export function generateWebhookSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/**
 * A signing secret given by the caller: `whsec_` + base64 (standard alphabet, padded) of a key
 * of 24–64 bytes, the form every Standard Webhooks library reads. Anything else is 400; the
 * answer never repeats the value.
 */
export function checkWebhookSecret(raw: string): string {
  const encoded = raw.startsWith(PREFIX) ? raw.slice(PREFIX.length) : null;
  const bytes = encoded && BASE64.test(encoded) ? Buffer.from(encoded, 'base64').length : 0;
  if (bytes < MIN_KEY_BYTES || bytes > MAX_KEY_BYTES) {
    throw ApiError.badRequest(
      `webhook.secret must be "${PREFIX}" followed by the base64 of ${MIN_KEY_BYTES}–${MAX_KEY_BYTES} random bytes (leave it out to have one generated)`,
      'WEBHOOK_SECRET_INVALID',
    );
  }
  return raw;
}
