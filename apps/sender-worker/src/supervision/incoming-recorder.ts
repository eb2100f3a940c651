import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { EventLog, type GatewayEvent, type MessageReceivedEventData } from '@app/core';
import type { IncomingMessage } from '@app/session';

/**
 * How long one append keeps trying while Redis does not answer: a failover or a restart from
 * AOF takes seconds, and whatsapp-web.js fires `message` once (nothing replays it). Gaps start
 * at 100 ms and double up to 2 s.
 */
const APPEND_DEADLINE_MS = 60_000;
const APPEND_FIRST_GAP_MS = 100;
const APPEND_MAX_GAP_MS = 2_000;

/**
 * The id of the `message.received` event of one incoming message: derived from the session and
 * WhatsApp's id, so every sighting of the message (a reconnect replays recent ones, a second
 * worker adopting the session sees them again) names the same event and the log keeps one.
 */
export function incomingEventId(sessionId: string, waMessageId: string): string {
  const digest = createHash('sha256').update(`${sessionId}\n${waMessageId}`).digest('hex');
  return `evt_in_${digest.slice(0, 32)}`;
}

export function receivedEvent(
  sessionId: string,
  message: IncomingMessage,
  at = new Date(),
): GatewayEvent<MessageReceivedEventData> {
  return {
    id: incomingEventId(sessionId, message.waMessageId),
    type: 'message.received',
    session: sessionId,
    timestamp: at.toISOString(),
    data: {
      waMessageId: message.waMessageId,
      from: message.from,
      chatId: message.chatId,
      author: message.senderName,
      text: message.text,
      type: message.type,
      media: message.media,
      sentAt: message.timestamp,
      isGroup: message.isGroup,
    },
  };
}

export type RecordOutcome = 'recorded' | 'duplicate' | 'not-owner' | 'failed';

/**
 * Turns a session's incoming messages into `message.received` events in the durable log, once
 * per WhatsApp id (`EventLog.appendOnce`), and only while this worker holds the session's lease:
 * a worker that lost it (frozen, then woken) must not speak for the session. The lease lives in
 * the session's slot and the log in its own, so no one script can check both; the check comes
 * right before the append, and a message the old owner still records is one the new owner
 * records under the same id, which the log keeps once.
 *
 * Logs name the session and WhatsApp id, never the text.
 */
export class IncomingRecorder {
  /** Appends in flight by WhatsApp id: the simulator's caller waits for the one its emit began. */
  private readonly inFlight = new Map<string, Promise<RecordOutcome>>();

  constructor(
    private readonly sessionId: string,
    private readonly events: EventLog,
    private readonly holdsLease: () => Promise<boolean>,
    private readonly log: Logger,
  ) {}

  /** Records the message's event; joins an append of the same message already under way. */
  record(message: IncomingMessage): Promise<RecordOutcome> {
    const running = this.inFlight.get(message.waMessageId);
    if (running) return running;
    const done = this.append(message).finally(() => this.inFlight.delete(message.waMessageId));
    this.inFlight.set(message.waMessageId, done);
    return done;
  }

  private async append(message: IncomingMessage): Promise<RecordOutcome> {
    const fields = { waMessageId: message.waMessageId, type: message.type };
    const event = receivedEvent(this.sessionId, message);
    const startedAt = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        if (!(await this.holdsLease())) {
          this.log.warn(fields, 'incoming message not recorded: the lease is no longer ours');
          return 'not-owner';
        }
        const position = await this.events.appendOnce(event);
        this.log.info({ ...fields, eventId: event.id, duplicate: !position }, 'message received');
        return position ? 'recorded' : 'duplicate';
      } catch (err) {
        if (Date.now() - startedAt >= APPEND_DEADLINE_MS) {
          this.log.error(
            { ...fields, eventId: event.id, err },
            'could not record an incoming message',
          );
          return 'failed';
        }
        await new Promise((r) =>
          setTimeout(r, Math.min(APPEND_MAX_GAP_MS, APPEND_FIRST_GAP_MS * 2 ** (attempt - 1))),
        );
      }
    }
  }
}
