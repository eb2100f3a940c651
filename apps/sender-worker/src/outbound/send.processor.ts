import { DelayedError, Job, Queue, RateLimitError, UnrecoverableError, WaitingError } from 'bullmq';
import type { Logger } from 'pino';
import type { SendMessageJob } from '@app/queue';
import type { SessionDriver, SessionDriverError } from '@app/session';
import type { SendProtocol, SendSession } from './send-protocol';

/** What the processor needs from the session it consumes for (implemented by SessionRuntime). */
export interface SessionLink extends SendSession {
  readonly queue: Queue;
  /**
   * The session cannot send: with a loss, it broke under this job on that driver (recovery
   * starts, unless that driver was replaced since); without, it simply is not ready. Resolves
   * once the queue's pause state matches the session's.
   */
  holdQueue(loss: { error: SessionDriverError; driver?: SessionDriver } | null): Promise<void>;
}

/** A job's return value (kept only as long as BullMQ keeps completed jobs: not at all). */
export type SendJobResult =
  | { result: 'sent'; waMessageId: string; reconciled: boolean }
  | { result: 'skipped'; status: string };

/**
 * The BullMQ side of a send, and nothing else: runs the protocol on the job's data and maps
 * its outcome to BullMQ's control flow. A wait, a pacing delay or a re-check uses no attempt
 * (moveToWait / queue.rateLimit / moveToDelayed with their errors); a retry throws (BullMQ
 * backs off and uses an attempt); a failure for good is unrecoverable, and its job keeps no
 * content (it stays in BullMQ a while, for Bull Board; the record says what failed and why).
 */
export class SendProcessor {
  constructor(
    private readonly protocol: SendProtocol,
    private readonly logger: Logger,
  ) {}

  async process(
    job: Job<SendMessageJob>,
    token: string,
    link: SessionLink,
  ): Promise<SendJobResult> {
    const outcome = await this.protocol.run(job.data, job.attemptsMade, link);
    switch (outcome.kind) {
      case 'sent':
        return { result: 'sent', waMessageId: outcome.waMessageId, reconciled: false };
      case 'reconciled':
        return { result: 'sent', waMessageId: outcome.waMessageId, reconciled: true };
      case 'skipped':
        return { result: 'skipped', status: outcome.status };
      case 'wait':
        if (outcome.reason === 'lease-lost' || outcome.reason === 'superseded') {
          // This run may have lost its job lock to the run that took over: then moveToWait
          // fails on the lock, and the other run has the job.
          await job.moveToWait(token).catch(() => undefined);
          throw new WaitingError();
        }
        // The session cannot send: pause its queue first, then return the job to the front.
        await link.holdQueue(outcome.reason === 'session' ? outcome : null);
        await job.moveToWait(token);
        this.logger.info(
          {
            sessionId: job.data.sessionId,
            messageId: job.data.messageId,
            reason: outcome.reason === 'session' ? outcome.error.code : 'SESSION_NOT_READY',
          },
          'job returned to the queue until the session is ready',
        );
        throw new WaitingError();
      case 'rate-limited':
        // BullMQ's limiter holds the queue: the job goes back to the front and no lock is held
        // while the session waits.
        await link.queue.rateLimit(outcome.ms);
        throw new RateLimitError();
      case 'pending-recheck':
        await job.moveToDelayed(Date.now() + outcome.ms, token);
        throw new DelayedError();
      case 'retry':
        throw outcome.error;
      case 'fail':
        await this.stripContent(job);
        throw new UnrecoverableError(`${outcome.error.code}: ${outcome.error.message}`);
    }
  }

  /** A failed job keeps its recipient and reason, not its content (text, inline media). */
  private async stripContent(job: Job<SendMessageJob>): Promise<void> {
    await job
      .updateData({ ...job.data, content: {} })
      .catch((err: unknown) =>
        this.logger.warn(
          { err, sessionId: job.data.sessionId, messageId: job.data.messageId },
          'could not strip the content of a failed job',
        ),
      );
  }
}
