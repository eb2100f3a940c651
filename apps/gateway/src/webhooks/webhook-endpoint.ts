import { urlForPeople } from '@app/core';
import type { WebhookConfig } from '@app/session';
import { generateWebhookSecret, checkWebhookSecret } from './webhook-secret';
import { checkWebhookUrl } from './webhook-url';
import type { WebhookEndpointDto } from './webhook-endpoint.dto';

/** A session's webhook as the API shows it: never the secret. */
export interface WebhookView {
  url: string;
  /** Event types delivered; null = all. */
  events: string[] | null;
  signed: boolean;
}

/** The answer that sets an endpoint: the only one that shows its secret. */
export interface WebhookWithSecret extends WebhookView {
  secret: string;
}

/**
 * The endpoint to store for what a caller gave: URL checked (address policy), secret checked
 * or generated, event types without repeats. Throws 400 on bad input, before anything is
 * written.
 */
export function webhookEndpointOf(dto: WebhookEndpointDto, allowPrivate: boolean): WebhookConfig {
  return {
    url: checkWebhookUrl(dto.url, allowPrivate),
    secret: dto.secret === undefined ? generateWebhookSecret() : checkWebhookSecret(dto.secret),
    events: dto.events ? [...new Set(dto.events)] : undefined,
  };
}

/**
 * The endpoint as reads show it: the URL without credentials or query string (tokens, like the
 * secret, are shown only in the answer that set them).
 */
export function webhookView(webhook: WebhookConfig | null): WebhookView | null {
  return webhook
    ? { url: urlForPeople(webhook.url), events: webhook.events ?? null, signed: !!webhook.secret }
    : null;
}

/** The endpoint as the answer that set it shows it: the URL as given, and the secret. */
export function webhookWithSecret(webhook: WebhookConfig): WebhookWithSecret {
  return {
    url: webhook.url,
    events: webhook.events ?? null,
    signed: !!webhook.secret,
    secret: webhook.secret ?? '',
  };
}
