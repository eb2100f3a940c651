import { JobName, outboundQueueName } from './queue.constants';
import { SEND_JOB_VERSION, type MessageStatus, type SendMessageJob } from './jobs';
import { sendJobOptions, type SendJobPolicy } from './job-options';
import type { CreateOptions, MessageStore } from './message-store';
import type { OutboundQueues } from './outbound-queues';

export interface NewMessage {
  job: SendMessageJob;
  /** The recipient as the client wrote it, shown back in the message record. */
  to: string;
}

/** Write nothing (and resolve false) unless the session exists; `newIds`: see CreateOptions. */
export type EnqueueOptions = CreateOptions;

export type CancelOutcome =
  { result: 'cancelled' } | { result: 'not_found' } | { result: 'conflict'; status: MessageStatus };

/**
 * The one producer of send jobs. A message is written in two steps, record first and job
 * second: a job never exists without its record, and a record whose job was never written
 * (Redis died in between) belongs to a request that was not answered 202, so nobody holds its id.
 */
export class MessageQueueService {
  constructor(
    private readonly queues: OutboundQueues,
    private readonly store: MessageStore,
    private readonly policy: SendJobPolicy,
  ) {}

  /**
   * Writes one message: record (with its `queued` event in the stream) first, then its job.
   * With `requireSession`, resolves false and writes nothing when the session does not exist
   * (checked in the same step that indexes the message: MessageStore.createAll).
   *
   * Fold (under Redis Cluster; on one Redis the record and its event are one script and there
   * is no outbox: MessageStore.createAll): the event's removal from the outbox runs alongside
   * the job add instead of before it.
   * The event is in the stream before the job exists either way (so it precedes every later
   * event of the message); a removal that fails leaves an entry the consistency check finds
   * already in the stream and drops.
   */
  async enqueue(message: NewMessage, options: EnqueueOptions = {}): Promise<boolean> {
    const created = await this.store.createAll([message], options);
    if (!created.created) return false;
    await Promise.all([
      this.queues
        .get(message.job.sessionId)
        .add(
          JobName.SendMessage,
          { ...message.job, version: SEND_JOB_VERSION },
          sendJobOptions(message.job, this.policy),
        ),
      created.settled,
    ]);
    return true;
  }

  /**
   * All or nothing: the jobs go in as one MULTI/EXEC through FlowProducer.addBulk (Queue.addBulk
   * is a pipeline and can leave half a bulk behind, bullmq#3451). The messages are of one
   * session; `requireSession` as for {@link enqueue}.
   */
  async enqueueBulk(messages: NewMessage[], options: EnqueueOptions = {}): Promise<boolean> {
    if (messages.length === 0) return true;
    const created = await this.store.createAll(messages, options);
    if (!created.created) return false;
    await Promise.all([
      this.queues.flows().addBulk(
        messages.map((m) => ({
          name: JobName.SendMessage,
          queueName: outboundQueueName(m.job.sessionId),
          data: { ...m.job, version: SEND_JOB_VERSION },
          opts: sendJobOptions(m.job, this.policy),
        })),
      ),
      created.settled,
    ]);
    return true;
  }

  /** Cancels a message that has not started sending. */
  async cancel(messageId: string, sessionId: string): Promise<CancelOutcome> {
    return this.finishUnsent(messageId, sessionId, 'cancelled');
  }

  /** Marks a message whose expiresAt has passed before it was sent. */
  async expire(messageId: string, sessionId: string): Promise<CancelOutcome> {
    return this.finishUnsent(messageId, sessionId, 'expired');
  }

  /** Cancels every waiting and delayed message of a session; returns how many. */
  async clear(sessionId: string): Promise<number> {
    const queue = this.queues.get(sessionId);
    let cleared = 0;
    // A job that cannot be cancelled (its message is being sent) stays in the lists: handle
    // each job once, or such a job would be fetched and refused forever.
    const handled = new Set<string>();
    // Page from the start each round: cancelled jobs leave the lists as we go.
    for (;;) {
      const jobs = await queue.getJobs(
        ['waiting', 'prioritized', 'delayed'],
        0,
        handled.size + 499,
      );
      const fresh = jobs.filter((job) => job?.id && !handled.has(job.id));
      if (fresh.length === 0) break;
      for (const job of fresh) {
        handled.add(job.id!);
        const outcome = await this.cancel(job.id!, sessionId);
        if (outcome.result === 'cancelled') cleared++;
      }
    }
    return cleared;
  }

  private async finishUnsent(
    messageId: string,
    sessionId: string,
    to: 'cancelled' | 'expired',
  ): Promise<CancelOutcome> {
    const t = await this.store.transition(messageId, {
      to,
      from: ['queued'],
      error:
        to === 'expired'
          ? { code: 'EXPIRED', message: 'expiresAt passed before the message could be sent' }
          : undefined,
    });
    const queue = this.queues.get(sessionId);
    if (t.previous === null) {
      // No record: remove a stray job all the same, so nothing is sent without a record.
      await queue.remove(messageId).catch(() => 0);
      return { result: 'not_found' };
    }
    if (!t.applied) {
      if (t.previous === to) {
        await queue.remove(messageId).catch(() => 0);
        return { result: 'cancelled' };
      }
      return { result: 'conflict', status: t.previous };
    }
    // The worker checks the record before sending, so a job it already holds is harmless;
    // removing the rest keeps queue counts honest.
    await queue.remove(messageId).catch(() => 0);
    await this.store.forgetExpiry([messageId]);
    return { result: 'cancelled' };
  }
}
