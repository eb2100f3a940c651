import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  type ControlReply,
  type ControlRequest,
  createRedis,
  LOGGER,
  REDIS,
  RedisKeys,
  redisTarget,
} from '@app/core';
import {
  asDriverError,
  FAULT_TYPES,
  IncomingMediaTransfer,
  SessionDriverError,
  SessionErrorCode,
  SimulatorIncomingRequests,
  type FaultType,
} from '@app/session';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { SessionOwnershipService } from '../ownership/session-ownership.service';
import { NumberChecker } from '../outbound/number-check';

/** Answers the gateway's commands for the sessions this worker owns. */
@Injectable()
export class ControlListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscriber: Redis | null = null;
  private readonly incomingRequests: SimulatorIncomingRequests;
  private readonly mediaTransfer: IncomingMediaTransfer;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly ownership: SessionOwnershipService,
    private readonly numbers: NumberChecker,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.incomingRequests = new SimulatorIncomingRequests(redis, keys);
    this.mediaTransfer = new IncomingMediaTransfer(redis, keys);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.subscriber = createRedis(
      redisTarget(this.config),
      'worker',
      `worker-control:${this.config.workerId}`,
    );
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (_channel: string, raw: string) => void this.handle(raw));
    await this.subscriber.subscribe(this.keys.controlChannel());
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscriber?.disconnect();
  }

  private async handle(raw: string): Promise<void> {
    let req: ControlRequest;
    try {
      req = JSON.parse(raw) as ControlRequest;
    } catch {
      return;
    }
    const rt = this.ownership.runtime(req.sessionId);
    if (!rt) return; // not ours: the owner answers
    const log = this.logger.child({ sessionId: req.sessionId, command: req.command });
    let reply: ControlReply;
    try {
      const result = await this.execute(req);
      reply = { id: req.id, ok: true, result, workerId: this.config.workerId };
    } catch (err) {
      const e = asDriverError(err);
      log.warn({ code: e.code, err: e.message }, 'control command failed');
      reply = {
        id: req.id,
        ok: false,
        error: { code: e.code, message: e.message },
        workerId: this.config.workerId,
      };
    }
    await this.redis
      .publish(this.keys.replyChannel(req.replyTo), JSON.stringify(reply))
      .catch(() => 0);
  }

  private async execute(req: ControlRequest): Promise<unknown> {
    const rt = this.ownership.runtime(req.sessionId)!;
    switch (req.command) {
      case 'recover':
        await rt.recover();
        return { accepted: true };
      case 'stop': {
        // A logout needs the running client: done first, and its outcome answered. Then answer:
        // stopping waits for the send in flight, the gateway should not.
        const logout = req.logout ? await rt.logout() : {};
        setImmediate(() => void this.ownership.stopDeleted(req.sessionId));
        return { accepted: true, ...logout };
      }
      case 'fault':
        if (!FAULT_TYPES.includes(req.type as FaultType))
          throw new Error(`unknown fault ${req.type}`);
        await rt.injectFault({ type: req.type as FaultType, durationMs: req.durationMs });
        return { accepted: true };
      case 'pairing-code':
        return { code: await rt.requestPairingCode(req.phone) };
      case 'check-number': {
        const driver = rt.readyDriver();
        if (!driver) {
          throw new SessionDriverError(
            SessionErrorCode.SessionNotReady,
            'session',
            `the session is ${rt.status}, not ready`,
          );
        }
        return this.numbers.check(req.sessionId, req.chatId, driver);
      }
      case 'simulate-incoming': {
        const request = await this.incomingRequests.take(req.sessionId, req.waMessageId);
        if (!request) {
          throw new SessionDriverError(
            'INCOMING_REQUEST_GONE',
            'permanent',
            'the incoming message to simulate was not found (expired or already taken): post it again',
          );
        }
        const message = await rt.simulateIncoming(request);
        return { waMessageId: message.waMessageId };
      }
      case 'incoming-media': {
        // The bytes go through Redis, not through this reply: see IncomingMediaTransfer.
        const media = await rt.downloadIncomingMedia(req.waMessageId);
        await this.mediaTransfer.put(req.sessionId, req.token, media);
        return { mimetype: media.mimetype, filename: media.filename, size: media.data.length };
      }
    }
  }
}
