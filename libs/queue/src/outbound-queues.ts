import { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { outboundQueueName } from './queue.constants';

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
  paused: boolean;
}

/**
 * One BullMQ `Queue` object per session's outbound queue, created on first use and shared. They
 * all ride on one connection: a Queue only issues short commands (blocking reads belong to
 * Workers), so one connection per process is enough whatever the number of sessions.
 */
export class OutboundQueues {
  private readonly queues = new Map<string, Queue>();
  private flowProducer?: FlowProducer;

  constructor(
    private readonly connection: Redis,
    readonly prefix: string,
  ) {}

  get(sessionId: string): Queue {
    let queue = this.queues.get(sessionId);
    if (!queue) {
      queue = new Queue(outboundQueueName(sessionId), {
        connection: this.connection,
        prefix: this.prefix,
      });
      // Errors surface on the calls themselves; without a listener an 'error' event would
      // crash the process.
      queue.on('error', () => undefined);
      this.queues.set(sessionId, queue);
    }
    return queue;
  }

  /** FlowProducer.addBulk is one MULTI/EXEC: all jobs or none (Queue.addBulk is not). */
  flows(): FlowProducer {
    if (!this.flowProducer) {
      this.flowProducer = new FlowProducer({ connection: this.connection, prefix: this.prefix });
      this.flowProducer.on('error', () => undefined);
    }
    return this.flowProducer;
  }

  async counts(sessionId: string): Promise<QueueCounts> {
    const queue = this.get(sessionId);
    const [counts, paused] = await Promise.all([
      queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
      queue.isPaused(),
    ]);
    return {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      completed: counts.completed ?? 0,
      paused,
    };
  }

  /** Forgets the Queue object of a deleted session (its Redis keys are removed separately). */
  async release(sessionId: string): Promise<void> {
    const queue = this.queues.get(sessionId);
    this.queues.delete(sessionId);
    // close() leaves a shared connection open (disconnect() would not).
    if (queue) await queue.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const queues = [...this.queues.values()];
    this.queues.clear();
    await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
    await this.flowProducer?.close().catch(() => undefined);
  }
}
