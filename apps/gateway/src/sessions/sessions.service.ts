import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LOGGER, REDIS, RedisKeys } from '@app/core';
import { MessageQueueService, OutboundQueues } from '@app/queue';
import {
  decodeNumberCheck,
  DEFAULT_RATE_LIMIT,
  DEFAULT_SIMULATOR_OPTIONS,
  SessionPurger,
  SessionStore,
  SimulatorOutboxReader,
  type OutboxEntry,
  type SessionConfig,
  type StoredSession,
} from '@app/session';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { ApiError } from '../common/api-error';
import { ControlClient } from '../control/control.client';
import type { CreateSessionDto, FaultDto } from './session.dto';
import { sessionView, type SessionView } from './session-view';
import {
  webhookEndpointOf,
  webhookWithSecret,
  type WebhookWithSecret,
} from '../webhooks/webhook-endpoint';

/** What `DELETE /api/sessions/:id?logout=true` could do about the linked device. */
export interface LogoutOutcome {
  loggedOut: boolean;
  /** Why not, in words a person can act on. */
  reason?: { code: string; message: string };
}

@Injectable()
export class SessionsService {
  private readonly purger: SessionPurger;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly sessions: SessionStore,
    private readonly queues: OutboundQueues,
    private readonly producer: MessageQueueService,
    private readonly control: ControlClient,
    private readonly outbox: SimulatorOutboxReader,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.purger = new SessionPurger(redis, keys);
  }

  /** Creates a session; its answer shows the webhook's secret, the only one that does. */
  async create(
    dto: CreateSessionDto,
  ): Promise<Omit<SessionView, 'webhook'> & { webhook: WebhookWithSecret | null }> {
    const driver = dto.driver ?? this.config.defaultDriver;
    if (dto.simulator && driver !== 'simulator') {
      throw ApiError.badRequest('simulator options are only for driver "simulator"');
    }
    const rateLimit = dto.rateLimit ?? DEFAULT_RATE_LIMIT;
    if (rateLimit.minDelayMs > rateLimit.maxDelayMs) {
      throw ApiError.badRequest('rateLimit.minDelayMs must not exceed rateLimit.maxDelayMs');
    }
    const config: SessionConfig = {
      id: dto.id,
      driver,
      rateLimit: {
        perMinute: rateLimit.perMinute,
        minDelayMs: rateLimit.minDelayMs,
        maxDelayMs: rateLimit.maxDelayMs,
      },
      webhook: dto.webhook ? webhookEndpointOf(dto.webhook, this.config.webhookAllowPrivate) : null,
      simulator:
        driver === 'simulator' ? { ...DEFAULT_SIMULATOR_OPTIONS, ...(dto.simulator ?? {}) } : null,
      createdAt: new Date().toISOString(),
    };
    await this.finishEarlierDeletion(dto.id);
    if (!(await this.sessions.create(config))) {
      throw ApiError.conflict('SESSION_EXISTS', `Session "${dto.id}" already exists`);
    }
    this.logger.info({ sessionId: dto.id, driver }, 'session created');
    const view = await this.get(dto.id);
    // The one answer that shows the secret (generated or given): no later read does.
    return { ...view, webhook: config.webhook ? webhookWithSecret(config.webhook) : null };
  }

  async list(): Promise<SessionView[]> {
    const ids = await this.sessions.ids();
    const views = await Promise.all(ids.map((id) => this.find(id)));
    return views.filter((v): v is SessionView => v !== null);
  }

  async get(id: string): Promise<SessionView> {
    const view = await this.find(id);
    if (!view) throw this.notFound(id);
    return view;
  }

  async stored(id: string): Promise<StoredSession> {
    const stored = await this.sessions.get(id);
    if (!stored) throw this.notFound(id);
    return stored;
  }

  async qr(id: string): Promise<string> {
    const view = await this.get(id);
    const stored = await this.stored(id);
    if (view.status !== 'qr' || !stored.state.qr) {
      throw ApiError.conflict(
        'SESSION_NOT_IN_QR',
        `Session "${id}" is ${view.status}: there is no QR code to scan`,
      );
    }
    return stored.state.qr;
  }

  async recover(id: string): Promise<void> {
    await this.stored(id);
    await this.control.send(id, { command: 'recover' });
    this.logger.info({ sessionId: id }, 'session recovery requested');
  }

  /**
   * Stops and removes a session, and everything it had. In order: mark it deleting (no worker
   * claims it again); with `logout`, have the owner unlink the device while it still runs;
   * pause its queue and drop it from the registry (no new message is admitted: one written
   * concurrently sees it gone and cancels itself); cancel every unsent message; mark the
   * deletion done; tell the owner to stop. The owner purges the session's data once it has
   * stopped; without a live owner the gateway purges it now (a worker's janitor finishes a
   * deletion whose owner or gateway died).
   */
  async remove(
    id: string,
    logout: boolean,
  ): Promise<{ cancelled: number; logout: LogoutOutcome | null }> {
    const stored = await this.stored(id);
    await this.sessions.markDeleting(id);
    const owner = await this.sessions.owner(id);
    const { stopping, ...outcome } = logout
      ? await this.logout(id, stored, owner !== null)
      : { stopping: false };
    await this.queues.get(id).pause();
    await this.sessions.remove(id);
    const cancelled = await this.producer.clear(id);
    await this.sessions.markDeleted(id);
    // Without a live owner there is nobody to tell. Answer first: the stop waits for the send
    // in flight, the caller should not.
    if (owner && !stopping)
      await this.control.send(id, { command: 'stop', logout: false }).catch(() => undefined);
    await this.purgeIfUnowned(id);
    this.logger.info({ sessionId: id, cancelled, logout }, 'session deleted');
    return { cancelled, logout: logout ? (outcome as LogoutOutcome) : null };
  }

  /**
   * Unlinks the device. Only a running client can tell WhatsApp (the owner does it before it
   * stops); the simulator's device lives in Redis and goes with the purge. Otherwise the answer
   * says it was not done, and why: never silently nothing.
   */
  private async logout(
    id: string,
    stored: StoredSession,
    owned: boolean,
  ): Promise<LogoutOutcome & { stopping: boolean }> {
    let answered = false;
    if (owned) {
      try {
        // The owner answers once it has tried, then stops the session.
        const reply = await this.control.send<LogoutOutcome>(id, { command: 'stop', logout: true });
        answered = true;
        if (reply.loggedOut || stored.config.driver !== 'simulator')
          return { ...reply, stopping: true };
      } catch (err) {
        if (stored.config.driver !== 'simulator') {
          const e = err instanceof ApiError ? err : null;
          return {
            stopping: false,
            loggedOut: false,
            reason: {
              code: e?.code ?? 'LOGOUT_FAILED',
              message: `${e?.message ?? 'the owning worker did not answer'}: the device stays linked; remove it on the phone (Linked devices)`,
            },
          };
        }
      }
    }
    if (stored.config.driver === 'simulator') {
      await this.purger.forgetLinkedDevice(id);
      return { loggedOut: true, stopping: answered };
    }
    return {
      stopping: false,
      loggedOut: false,
      reason: {
        code: 'SESSION_NOT_RUNNING',
        message:
          'No worker runs this session, so WhatsApp could not be told: its login data is deleted, but the device stays listed on the phone; remove it there (Linked devices)',
      },
    };
  }

  /** Purges a deleted session's data now, unless a worker still runs it (it purges after). */
  private async purgeIfUnowned(id: string): Promise<void> {
    const outcome = await this.purger.purge(id).catch((err: unknown) => {
      this.logger.warn({ sessionId: id, err: (err as Error).message }, 'session purge failed');
      return null;
    });
    if (outcome === 'purged') await this.sessions.forgetDeletion(id);
  }

  /**
   * A deleted session's data must be gone before its id is used again, or the new session
   * would silently re-link the old account: finish the purge now, or 409 while the old one is
   * still being deleted (cancelling its messages, or its worker still stopping it).
   */
  private async finishEarlierDeletion(id: string): Promise<void> {
    const since = await this.sessions.deletion(id);
    if (since === null) return;
    const outcome = since > 0 ? await this.purger.purge(id) : 'owned';
    if (outcome === 'purged') {
      await this.sessions.forgetDeletion(id);
      return;
    }
    if (outcome === 'recreated') return; // someone re-created it already: create() answers 409
    throw ApiError.conflict(
      'SESSION_DELETING',
      `Session "${id}" is still being deleted; try again in a few seconds`,
    );
  }

  async pairingCode(id: string, phone: string): Promise<string> {
    await this.stored(id);
    const digits = phone.replace(/\D/g, '');
    const res = await this.control.send<{ code: string }>(id, {
      command: 'pairing-code',
      phone: digits,
    });
    return res.code;
  }

  async checkContact(id: string, chatId: string): Promise<{ chatId: string; onWhatsApp: boolean }> {
    await this.stored(id);
    const cached = decodeNumberCheck(chatId, await this.redis.get(this.keys.contact(id, chatId)));
    if (cached) return cached;
    return this.control.send(id, { command: 'check-number', chatId });
  }

  async outboxOf(id: string): Promise<OutboxEntry[]> {
    await this.requireSimulator(id);
    return this.outbox.list(id);
  }

  async injectFault(id: string, fault: FaultDto): Promise<void> {
    await this.requireSimulator(id);
    await this.control.send(id, {
      command: 'fault',
      type: fault.type,
      durationMs: fault.durationMs,
    });
  }

  private async requireSimulator(id: string): Promise<void> {
    const stored = await this.stored(id);
    if (stored.config.driver !== 'simulator') {
      throw ApiError.badRequest(
        `Session "${id}" uses driver "${stored.config.driver}"; this route is for simulator sessions`,
        'NOT_SIMULATOR',
      );
    }
  }

  /**
   * The session's view, or null. The registry is read first: a BullMQ Queue object writes its
   * `meta` key when used, so touching the queue of an id that does not exist would leave keys
   * behind for every random id anyone asks about.
   */
  private async find(id: string): Promise<SessionView | null> {
    const stored = await this.sessions.get(id);
    if (!stored) return null;
    const [owner, counts] = await Promise.all([this.sessions.owner(id), this.queues.counts(id)]);
    return sessionView(stored, owner, counts);
  }

  private notFound(id: string): ApiError {
    return ApiError.notFound('SESSION_NOT_FOUND', `Session "${id}" does not exist`);
  }
}
