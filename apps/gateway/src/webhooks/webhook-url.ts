import { refuseUrlHost } from '@app/core';
import { ApiError } from '../common/api-error';

/**
 * A session's webhook URL, checked when the session is created: http(s), and not on a
 * loopback, private, link-local, unique-local, CGNAT, unspecified, multicast or metadata
 * address (`localhost` and `*.localhost` included, in any spelling of the address) unless
 * WEBHOOK_ALLOW_PRIVATE. The same address policy as media URLs (libs/core). A host name is
 * resolved, checked and pinned when a delivery is made, since its DNS answer can change.
 */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw ApiError.badRequest('webhook.url must be an http or https URL');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw ApiError.badRequest('webhook.url must be an http or https URL');
  }
  const refusal = refuseUrlHost(url, allowPrivate);
  if (refusal) {
    throw ApiError.badRequest(
      `webhook.url is not allowed: ${refusal} (set WEBHOOK_ALLOW_PRIVATE=true for tests or single-host setups)`,
      'WEBHOOK_URL_NOT_ALLOWED',
    );
  }
  return raw;
}
