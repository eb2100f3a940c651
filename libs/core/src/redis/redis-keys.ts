/**
 * Every Redis key this system writes outside BullMQ, in one place. All start with QUEUE_PREFIX.
 * Keys that belong together carry the same `{hash tag}` so they live in one Redis Cluster slot.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** ZSET of session ids, scored by creation time. */
  sessions(): string {
    return `${this.prefix}:sessions`;
  }
  /**
   * ZSET of deleted session ids whose data is not purged yet. Score: minus the deletion's start
   * time while the gateway is still cancelling its messages, then the time it finished.
   */
  deletedSessions(): string {
    return `${this.prefix}:sessions:deleted`;
  }
  /** HASH: a session's configuration and the state its owning worker reports. */
  session(id: string): string {
    return `${this.prefix}:session:{${id}}`;
  }
  /** STRING `<workerId>|<fencing token>`, expiring after SESSION_LEASE_MS unless renewed. */
  lease(id: string): string {
    return `${this.prefix}:session:{${id}}:lease`;
  }
  /** Monotonic counter: each new lease of a session takes the next fencing token. */
  leaseToken(id: string): string {
    return `${this.prefix}:session:{${id}}:lease-token`;
  }
  /** ZSET of the session's send times in the last minute (per-minute cap). */
  pacing(id: string): string {
    return `${this.prefix}:session:{${id}}:pacing`;
  }
  /** STRING: the earliest time the session may send again (the random gap), expiring then. */
  pacingNext(id: string): string {
    return `${this.prefix}:session:{${id}}:pacing-next`;
  }
  /** STRING: WhatsApp message id -> our message id, to route acks. */
  waMessage(id: string, waMessageId: string): string {
    return `${this.prefix}:session:{${id}}:wa:${waMessageId}`;
  }
  /**
   * STRING: the highest ack (-1, 2, 3) seen for a WhatsApp id not indexed yet (the ack came
   * before the send returned); applied when the id is indexed. Short-lived.
   */
  earlyAck(id: string, waMessageId: string): string {
    return `${this.prefix}:session:{${id}}:early-ack:${waMessageId}`;
  }
  /**
   * ZSET of the session's messages whose record may not be final yet, scored by creation time:
   * what the worker's consistency check looks at, without scanning Redis. Added when a record is
   * created; removed when the record turns final (the check prunes what a crash left).
   */
  unfinished(id: string): string {
    return `${this.prefix}:session:{${id}}:unfinished`;
  }
  /** HASH of counters (what the consistency check fixed, when it last ran). */
  stats(): string {
    return `${this.prefix}:stats`;
  }
  /** STRING cached number check of one recipient. */
  contact(id: string, chatId: string): string {
    return `${this.prefix}:session:{${id}}:contact:${chatId}`;
  }

  /** HASH: one message's record (status, attempts, error, times). */
  message(id: string): string {
    return `${this.prefix}:msg:{${id}}`;
  }
  /** LIST: status history of one message, oldest first. */
  messageHistory(id: string): string {
    return `${this.prefix}:msg:{${id}}:history`;
  }
  /** HASH: the open send intent of one message (written before a send, closed after). */
  sendIntent(id: string): string {
    return `${this.prefix}:msg:{${id}}:intent`;
  }
  /** ZSET of message ids with an expiresAt, scored by it. */
  expiries(): string {
    return `${this.prefix}:expiries`;
  }

  /** STRING: an Idempotency-Key's outcome `{hash, id}` (24 h). */
  idempotency(scope: string, key: string): string {
    return `${this.prefix}:idem:{${scope}}:${key}`;
  }
  /** STRING: held while the first request with an Idempotency-Key is being handled. */
  idempotencyLock(scope: string, key: string): string {
    return `${this.prefix}:idem:{${scope}}:${key}:lock`;
  }

  /** ZSET of live worker ids scored by last heartbeat; HASH per worker with its facts. */
  workers(): string {
    return `${this.prefix}:workers`;
  }
  worker(id: string): string {
    return `${this.prefix}:worker:{${id}}`;
  }

  /** Pub/sub channel on which the gateway sends commands to whichever worker owns a session. */
  controlChannel(): string {
    return `${this.prefix}:control`;
  }
  /** Pub/sub channel on which a worker answers one gateway process. */
  replyChannel(gatewayId: string): string {
    return `${this.prefix}:control:reply:${gatewayId}`;
  }
  /**
   * STREAM of every event (message.status, message.received, session.status): the durable log
   * webhooks are routed from and the live stream reads. Its own slot.
   */
  eventStream(): string {
    return `${this.prefix}:{events}`;
  }
  /** STRING marking an event id appended once (in the stream's slot), for facts seen twice. */
  eventSeen(eventId: string): string {
    return `${this.prefix}:{events}:seen:${eventId}`;
  }
  /** LIST: a session's events recorded with its state, not yet in the stream (its slot). */
  sessionOutbox(id: string): string {
    return `${this.prefix}:session:{${id}}:outbox`;
  }
  /** LIST: a message's events recorded with its status, not yet in the stream (its slot). */
  messageOutbox(id: string): string {
    return `${this.prefix}:msg:{${id}}:outbox`;
  }

  /** HASH: one dead-lettered webhook delivery (event, endpoint, every attempt). */
  webhookDeadLetter(id: string): string {
    return `${this.prefix}:webhook:dead:{${id}}`;
  }
  /**
   * STRING: how often a delivery was replayed, in the dead letter's slot. Kept apart from the
   * dead letter (which a replay removes) so that a delivery dead-lettered again gets a fresh
   * replay job id instead of one its earlier replay job still holds.
   */
  webhookReplayCount(id: string): string {
    return `${this.prefix}:webhook:dead:{${id}}:replays`;
  }
  /**
   * ZSET of dead-letter ids by time of death: all of them, and per session (in the session's
   * slot, so the session's purge takes it).
   */
  webhookDeadLetters(session?: string): string {
    return session === undefined
      ? `${this.prefix}:webhook:dead-letters`
      : `${this.prefix}:webhook:dead-letters:{${session}}`;
  }
  /** STRING set once an endpoint answered 2xx for a delivery, so a retry never repeats it. */
  webhookDelivered(deliveryId: string): string {
    return `${this.prefix}:webhook:delivered:${deliveryId}`;
  }
  /** HASH of endpoints that answered 410 Gone (endpoint key -> when): nothing more is sent. */
  webhookDisabled(): string {
    return `${this.prefix}:webhook:disabled`;
  }

  /** Simulator: the linked-device state of a session (survives worker changes). */
  simulatorDevice(id: string): string {
    return `${this.prefix}:sim:{${id}}:device`;
  }
  /** Simulator: LIST of sent messages in send order, as WhatsApp's servers would record them. */
  simulatorOutbox(id: string): string {
    return `${this.prefix}:sim:{${id}}:outbox`;
  }
  /** Simulator: HASH messageId -> outbox entry, to answer "did this message go out?". */
  simulatorOutboxIndex(id: string): string {
    return `${this.prefix}:sim:{${id}}:outbox-index`;
  }
  /** Simulator: HASH of send ids already recorded (a resent command records once). */
  simulatorOutboxSends(id: string): string {
    return `${this.prefix}:sim:{${id}}:outbox-sends`;
  }
  /** Simulator: HASH chatId -> "0" for numbers the simulator says are not on WhatsApp. */
  simulatorContacts(id: string): string {
    return `${this.prefix}:sim:{${id}}:contacts`;
  }

  /**
   * Simulator: STRING (JSON, minutes) an incoming message the gateway asks the owning worker's
   * simulator to receive; the worker takes it (pub/sub carries only its id, not the media).
   */
  simulatorIncomingRequest(id: string, waMessageId: string): string {
    return `${this.prefix}:sim:{${id}}:incoming-request:${waMessageId}`;
  }
  /** Simulator: HASH an incoming message as WhatsApp's servers hold it, media bytes included. */
  simulatorIncoming(id: string, waMessageId: string): string {
    return `${this.prefix}:sim:{${id}}:incoming:${waMessageId}`;
  }
  /**
   * HASH (seconds): an incoming message's media the owning worker downloaded for the gateway,
   * handed over in Redis because the control channel (pub/sub) is no place for megabytes.
   */
  incomingMediaTransfer(id: string, token: string): string {
    return `${this.prefix}:session:{${id}}:media-transfer:${token}`;
  }

  /** STRING (binary): the whatsapp-web.js RemoteAuth backup (zipped browser profile) of a session. */
  wwebjsAuth(id: string): string {
    return `${this.prefix}:auth:{${id}}`;
  }
  /** STRING: the backup being written, renamed over wwebjsAuth() once complete (atomic). */
  wwebjsAuthPending(id: string): string {
    return `${this.prefix}:auth:{${id}}:pending`;
  }

  /** Throttler storage (requests per API key) lives under this prefix. */
  throttler(): string {
    return `${this.prefix}:throttle:`;
  }
}
