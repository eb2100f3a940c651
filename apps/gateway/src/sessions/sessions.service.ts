import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { decodeNumberCheck, MessageQueueService, OutboundQueues, RedisKeys } from '@app/queue';
import {
  DEFAULT_RATE_LIMIT,
  DEFAULT_SIMULATOR_OPTIONS,
  SessionStore,
  SimulatorOutbox,
  type OutboxEntry,
  type SessionConfig,
  type StoredSession,
} from '@app/session';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { REDIS } from '../redis/redis.providers';
import { ApiError } from '../common/api-error';
import { ControlClient } from '../control/control.client';
import type { CreateSessionDto, FaultDto } from './session.dto';
import { sessionView, type SessionView } from './session-view';
import { checkWebhookUrl } from './webhook-url';

@Injectable()
export class SessionsService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly sessions: SessionStore,
    private readonly queues: OutboundQueues,
    private readonly producer: MessageQueueService,
    private readonly control: ControlClient,
    private readonly outbox: SimulatorOutbox,
  ) {}

  async create(dto: CreateSessionDto): Promise<SessionView> {
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
      webhook: dto.webhook
        ? {
            url: checkWebhookUrl(dto.webhook.url, this.config.webhookAllowPrivate),
            secret: dto.webhook.secret,
            events: dto.webhook.events,
          }
        : null,
      simulator:
        driver === 'simulator' ? { ...DEFAULT_SIMULATOR_OPTIONS, ...(dto.simulator ?? {}) } : null,
      createdAt: new Date().toISOString(),
    };
    if (!(await this.sessions.create(config))) {
      throw ApiError.conflict('SESSION_EXISTS', `Session "${dto.id}" already exists`);
    }
    return this.get(dto.id);
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
  }

  /**
   * Stops and removes a session. The registry entry goes first, so no worker adopts it again
   * and no new message is admitted (a message written concurrently sees it gone and cancels
   * itself); then the owner stops it (and unlinks with `logout`); then every unsent message is
   * cancelled.
   */
  async remove(id: string, logout: boolean): Promise<{ cancelled: number }> {
    await this.stored(id);
    const owner = await this.sessions.owner(id);
    await this.sessions.remove(id);
    // Without a live owner there is nobody to tell.
    if (owner) await this.control.send(id, { command: 'stop', logout }).catch(() => undefined);
    await this.queues.get(id).pause();
    const cancelled = await this.producer.clear(id);
    if (logout) await this.redis.del(this.keys.simulatorDevice(id));
    return { cancelled };
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
