import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys } from '@app/core';
import { webhookEndpointKey, type WebhookEndpointKind } from '@app/queue';
import { SessionStore } from '@app/session';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { ApiError } from '../common/api-error';
import { webhookEndpointOf, webhookWithSecret, type WebhookWithSecret } from './webhook-endpoint';
import type { WebhookEndpointDto } from './webhook-endpoint.dto';

/**
 * A session's webhook endpoint: replaced or removed without re-creating the session. It lives
 * in the session record, which the delivering worker reads at each delivery, so a change
 * applies to deliveries already queued too.
 */
@Injectable()
export class WebhookEndpoints {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly sessions: SessionStore,
  ) {}

  /** Sets the endpoint (a new secret when none is given); the answer shows the secret once. */
  async set(sessionId: string, dto: WebhookEndpointDto): Promise<WebhookWithSecret> {
    const webhook = webhookEndpointOf(dto, this.config.webhookAllowPrivate);
    if (!(await this.sessions.setWebhook(sessionId, webhook))) throw notFound(sessionId);
    await this.enable('session', sessionId);
    return webhookWithSecret(webhook);
  }

  async remove(sessionId: string): Promise<void> {
    if (!(await this.sessions.setWebhook(sessionId, null))) throw notFound(sessionId);
    await this.enable('session', sessionId);
  }

  /** Lifts the stop a 410 Gone put on an endpoint: deliveries to it are made again. */
  async enable(kind: WebhookEndpointKind, sessionId: string): Promise<void> {
    await this.redis.hdel(this.keys.webhookDisabled(), webhookEndpointKey(kind, sessionId));
  }
}

function notFound(id: string): ApiError {
  return ApiError.notFound('SESSION_NOT_FOUND', `Session "${id}" does not exist`);
}
