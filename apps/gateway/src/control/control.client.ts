import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  type ControlCommand,
  type ControlReply,
  type ControlRequest,
  createRedis,
  REDIS,
  RedisKeys,
  redisTarget,
} from '@app/core';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { ApiError } from '../common/api-error';

/** Maps a worker's error code to the HTTP answer. */
const ERROR_STATUS: Record<string, number> = {
  SESSION_NOT_READY: 409,
  NOT_SUPPORTED: 400,
  // Incoming messages and their media (simulated incoming, media download).
  INCOMING_MESSAGE_NOT_FOUND: 404,
  NO_MEDIA: 404,
  INVALID_MEDIA: 400,
  MEDIA_URL_FORBIDDEN: 400,
  MEDIA_TOO_LARGE: 413,
  // WhatsApp (or the media URL's server) could not give the media now.
  MEDIA_UNAVAILABLE: 502,
  // The worker could not write to Redis.
  EVENT_NOT_RECORDED: 503,
};

/**
 * Sends a command to whichever worker owns a session and waits for its answer. No answer
 * within CONTROL_TIMEOUT_MS means no live worker owns the session.
 */
@Injectable()
export class ControlClient implements OnModuleInit, OnApplicationShutdown {
  private readonly gatewayId = randomUUID();
  private subscriber: Redis | null = null;
  private readonly pending = new Map<string, (reply: ControlReply) => void>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  onModuleInit(): void {
    this.subscriber = createRedis(redisTarget(this.config), 'worker', 'gateway-control');
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (_c: string, raw: string) => {
      try {
        const reply = JSON.parse(raw) as ControlReply;
        this.pending.get(reply.id)?.(reply);
      } catch {
        /* not ours */
      }
    });
    void this.subscriber.subscribe(this.keys.replyChannel(this.gatewayId)).catch(() => undefined);
  }

  onApplicationShutdown(): void {
    this.subscriber?.disconnect();
  }

  /**
   * Resolves with the worker's result, or throws ApiError (409 no owner, or the worker's error).
   * `timeoutMs` (default CONTROL_TIMEOUT_MS) is for commands that take long by nature (media).
   */
  async send<T>(
    sessionId: string,
    command: ControlCommand,
    opts: { timeoutMs?: number } = {},
  ): Promise<T> {
    const id = randomUUID();
    const request: ControlRequest = { ...command, id, sessionId, replyTo: this.gatewayId };
    const reply = await new Promise<ControlReply | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, opts.timeoutMs ?? this.config.controlTimeoutMs);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(r);
      });
      this.redis
        .publish(this.keys.controlChannel(), JSON.stringify(request))
        .catch((err: unknown) => {
          clearTimeout(timer);
          this.pending.delete(id);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
    });
    if (!reply) {
      throw ApiError.conflict(
        'SESSION_NOT_RUNNING',
        `No live worker runs session "${sessionId}" right now; it will start when a worker adopts it`,
      );
    }
    if (!reply.ok) {
      throw new ApiError(
        ERROR_STATUS[reply.error.code] ?? 409,
        reply.error.code,
        reply.error.message,
      );
    }
    return reply.result as T;
  }
}
