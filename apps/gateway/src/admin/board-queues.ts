import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectBullBoard, type BullBoardInstance } from '@bull-board/nestjs';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LOGGER, REDIS } from '@app/core';
import { MAINTENANCE_QUEUE, outboundQueueName, WEBHOOKS_QUEUE } from '@app/queue';
import { SessionStore } from '@app/session';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { boardQueueOptions, type BoardQueueKind } from './board-actions';
import { redactJobData } from './board-job-data';

/**
 * How often the board re-reads the session registry. Sessions are created and deleted through
 * any gateway replica; each replica follows the registry, so its board shows a new session's
 * queue within this time, without a restart.
 */
export const BOARD_SYNC_INTERVAL_MS = 2000;

/**
 * The queues Bull Board shows: the webhooks and maintenance queues, and the outbound queue of
 * every session in the registry (`SessionStore.ids()`), added and removed as sessions come and
 * go. The board gets Queue objects of its own: on the gateway's one command connection (a
 * Queue only issues short commands; no QueueEvents, no blocking connection), and made with
 * `skipMetasUpdate`, so looking at a queue writes nothing (a plain Queue writes its meta key
 * when made, which would leave a key behind for a session deleted meanwhile).
 */
@Injectable()
export class BoardQueues implements OnApplicationBootstrap, OnModuleDestroy {
  /** Shown session queues by session id. */
  private readonly sessions = new Map<string, Queue>();
  private readonly fixed: Queue[] = [];
  private timer?: NodeJS.Timeout;
  private running: Promise<void> | null = null;
  private readonly logger: Logger;

  constructor(
    @InjectBullBoard() private readonly board: BullBoardInstance,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly store: SessionStore,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ component: 'bull-board' });
  }

  onApplicationBootstrap(): void {
    for (const [name, kind] of [
      [WEBHOOKS_QUEUE, 'webhooks'],
      [MAINTENANCE_QUEUE, 'maintenance'],
    ] as const) {
      const queue = this.queue(name);
      this.fixed.push(queue);
      this.show(queue, kind);
    }
    void this.sync();
    this.timer = setInterval(() => void this.sync(), BOARD_SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  /** Brings the shown session queues in line with the registry (one pass at a time). */
  sync(): Promise<void> {
    this.running ??= this.syncOnce().finally(() => (this.running = null));
    return this.running;
  }

  private async syncOnce(): Promise<void> {
    let ids: string[];
    try {
      ids = await this.store.ids();
    } catch (err) {
      // Redis down: keep showing what was shown; the board's own calls answer the trouble.
      this.logger.debug({ err }, 'bull board: session registry unreadable');
      return;
    }
    const current = new Set(ids);
    for (const id of ids) {
      if (this.sessions.has(id)) continue;
      const queue = this.queue(outboundQueueName(id));
      this.sessions.set(id, queue);
      this.show(queue, 'session', `session ${id}`);
    }
    for (const [id, queue] of this.sessions) {
      if (current.has(id)) continue;
      this.sessions.delete(id);
      this.board.removeQueue(queue.name);
      // close() leaves the shared connection open.
      await queue.close().catch(() => undefined);
    }
  }

  private queue(name: string): Queue {
    const queue = new Queue(name, {
      connection: this.redis,
      prefix: this.config.queuePrefix,
      skipMetasUpdate: true,
    });
    // Errors surface on the board's calls; an unhandled 'error' event would crash the process.
    queue.on('error', () => undefined);
    return queue;
  }

  private show(queue: Queue, kind: BoardQueueKind, displayName?: string): void {
    const adapter = new BullMQAdapter(queue, {
      ...boardQueueOptions(kind, this.config.bullBoardReadOnly),
      ...(displayName ? { displayName } : {}),
    });
    adapter.setFormatter('data', redactJobData);
    this.board.addQueue(adapter);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    const queues = [...this.fixed, ...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
  }
}
