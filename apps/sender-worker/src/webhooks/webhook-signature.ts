import { Webhook } from 'standardwebhooks';

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` (the event id: the same on every
 * retry and replay, what a receiver dedupes on), `webhook-timestamp` (this attempt, seconds) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>` made by the
 * `standardwebhooks` package. A `whsec_…` secret is the base64 of the key, as the standard says;
 * any other string (a secret set before secrets were generated) is used as its UTF-8 bytes.
 * Without a secret nothing can be signed: the signature header is left out.
 */
export function webhookHeaders(
  secret: string | null | undefined,
  eventId: string,
  at: Date,
  body: string,
): Record<string, string> {
  const headers: Record<string, string> = {
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
  };
  if (secret) headers['webhook-signature'] = signer(secret).sign(eventId, at, body);
  return headers;
}

function signer(secret: string): Webhook {
  return secret.startsWith('whsec_')
    ? new Webhook(secret)
    : new Webhook(new Uint8Array(Buffer.from(secret, 'utf8')), { format: 'raw' });
}
