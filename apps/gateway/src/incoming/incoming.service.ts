import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys } from '@app/core';
import {
  IncomingMediaTransfer,
  SessionStore,
  SimulatorIncomingRequests,
  WA_MESSAGE_ID_PATTERN,
  type DownloadedMedia,
} from '@app/session';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { ApiError } from '../common/api-error';
import { ControlClient } from '../control/control.client';
import { checkContent } from '../messages/content-checks';
import { toChatId } from '../messages/recipient';
import type { SimulateIncomingDto } from './incoming.dto';

/**
 * Incoming messages at the edge: the simulator's `POST …/simulator/incoming` and the media
 * download. Both are answered by the worker that owns the session (over the control channel);
 * what does not fit a pub/sub message (a request's media, downloaded bytes) is handed over in
 * Redis.
 */
@Injectable()
export class IncomingService {
  private readonly requests: SimulatorIncomingRequests;
  private readonly transfer: IncomingMediaTransfer;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(REDIS) redis: Redis,
    keys: RedisKeys,
    private readonly sessions: SessionStore,
    private readonly control: ControlClient,
  ) {
    this.requests = new SimulatorIncomingRequests(redis, keys);
    this.transfer = new IncomingMediaTransfer(redis, keys);
  }

  async simulate(sessionId: string, dto: SimulateIncomingDto): Promise<{ waMessageId: string }> {
    const stored = await this.sessions.get(sessionId);
    if (!stored) throw this.sessionNotFound(sessionId);
    if (stored.config.driver !== 'simulator') {
      // 400 like the other simulator routes (outbox, faults): the request is wrong for this session.
      throw ApiError.badRequest(
        `Session "${sessionId}" uses driver "${stored.config.driver}": only simulator sessions receive simulated messages`,
        'NOT_SIMULATOR',
      );
    }
    const chatId = toChatId(dto.from);
    if (!chatId?.endsWith('@c.us')) {
      throw ApiError.badRequest(
        'from must be a phone number with country code (15551234567, +1 555 123 4567)',
        'INVALID_SENDER',
      );
    }
    checkContent(dto, this.config.mediaMaxBytes);
    await this.requireOwner(sessionId);
    const waMessageId =
      dto.waMessageId ?? `false_${chatId}_3EB0${randomBytes(10).toString('hex').toUpperCase()}`;
    await this.requests.put(sessionId, {
      waMessageId,
      chatId,
      ...(dto.text ? { text: dto.text } : {}),
      ...(dto.media ? { media: { ...dto.media } } : {}),
    });
    await this.control.send(
      sessionId,
      { command: 'simulate-incoming', waMessageId },
      // A media URL is fetched by the worker first, within MEDIA_FETCH_TIMEOUT_MS.
      {
        timeoutMs:
          this.config.controlTimeoutMs + (dto.media?.url ? this.config.mediaFetchTimeoutMs : 0),
      },
    );
    return { waMessageId };
  }

  async media(sessionId: string, waMessageId: string): Promise<DownloadedMedia> {
    if (!(await this.sessions.exists(sessionId))) throw this.sessionNotFound(sessionId);
    if (!WA_MESSAGE_ID_PATTERN.test(waMessageId)) {
      throw ApiError.notFound(
        'INCOMING_MESSAGE_NOT_FOUND',
        `No incoming message ${JSON.stringify(waMessageId.slice(0, 64))} in session "${sessionId}"`,
      );
    }
    await this.requireOwner(sessionId);
    const token = randomUUID();
    await this.control.send(
      sessionId,
      { command: 'incoming-media', waMessageId, token },
      // The driver's download is bounded by MEDIA_FETCH_TIMEOUT_MS: wait for its answer.
      { timeoutMs: this.config.controlTimeoutMs + this.config.mediaFetchTimeoutMs },
    );
    const media = await this.transfer.take(sessionId, token);
    if (!media) {
      throw new ApiError(
        502,
        'MEDIA_UNAVAILABLE',
        'The worker downloaded the media but it expired before it could be served: try again',
      );
    }
    return media;
  }

  /**
   * Answers at once when no worker holds the session's lease, instead of waiting out the long
   * timeout of a command nobody will answer.
   */
  private async requireOwner(sessionId: string): Promise<void> {
    if (!(await this.sessions.owner(sessionId))) {
      throw ApiError.conflict(
        'SESSION_NOT_RUNNING',
        `No live worker runs session "${sessionId}" right now; it will start when a worker adopts it`,
      );
    }
  }

  private sessionNotFound(sessionId: string): ApiError {
    return ApiError.notFound('SESSION_NOT_FOUND', `Session "${sessionId}" does not exist`);
  }
}
