import { Inject, Injectable } from '@nestjs/common';
import { urlForPeople, type GatewayEvent } from '@app/core';
import type { WebhookEndpoint, WebhookEndpointKind } from '@app/queue';
import { SessionStore, type WebhookConfig } from '@app/session';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';

/** Where a delivery goes right now, with what it is signed. */
export interface WebhookTarget {
  url: string;
  secret: string | null;
}

/**
 * The endpoints of an event: the session's own webhook (if its `events` take the type) and the
 * deployment-wide one (WEBHOOK_URL, WEBHOOK_EVENTS). The router asks which endpoints an event
 * goes to; the delivery asks, at delivery time, where an endpoint is NOW and with what secret
 * (a changed webhook applies to queued deliveries; a job never carries a secret).
 */
@Injectable()
export class WebhookEndpoints {
  constructor(
    private readonly sessions: SessionStore,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  /** The endpoints an event is routed to; `session` is the session's webhook, as read. */
  routeOf(event: GatewayEvent, session: WebhookConfig | null): WebhookEndpoint[] {
    const out: WebhookEndpoint[] = [];
    if (session?.url && accepts(session.events, event.type)) {
      out.push({ kind: 'session', url: urlForPeople(session.url) });
    }
    const global = this.config.webhooks.global;
    if (global && accepts(global.events, event.type)) {
      out.push({ kind: 'global', url: urlForPeople(global.url) });
    }
    return out;
  }

  /** A session's webhook; null when the session or its webhook is gone. */
  async sessionWebhook(sessionId: string): Promise<WebhookConfig | null> {
    const stored = await this.sessions.get(sessionId);
    return stored?.config.webhook ?? null;
  }

  /** Where an endpoint is now; null when it is no longer configured. */
  async targetOf(kind: WebhookEndpointKind, sessionId: string): Promise<WebhookTarget | null> {
    if (kind === 'global') {
      const global = this.config.webhooks.global;
      return global ? { url: global.url, secret: global.secret } : null;
    }
    const webhook = await this.sessionWebhook(sessionId);
    return webhook?.url ? { url: webhook.url, secret: webhook.secret ?? null } : null;
  }
}

function accepts(events: readonly string[] | null | undefined, type: string): boolean {
  return !events || events.length === 0 || events.includes(type);
}
