import { hash, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '@app/core';
import {
  MessageQueueService,
  messagesAccepted,
  MessageStore,
  OutboundQueues,
  type MessageContent,
  type MessageRecord,
  type NewMessage,
  type SendMessageJob,
} from '@app/queue';
import { SessionStore } from '@app/session';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { ApiError } from '../common/api-error';
import { isRedisUnavailable } from '../common/error-shape';
import { IdempotencyService } from './idempotency.service';
import type { SendMessageDto } from './message.dto';
import { toChatId } from './recipient';
import { parseRfc3339 } from '../common/rfc3339';
import { checkContent } from './content-checks';

const DAY_MS = 86400000;

/** How long the gateway trusts a session's queue size for the QUEUE_FULL check. */
const SESSION_CACHE_MS = 1000;

/** A request's Idempotency-Key and the fingerprint of what it asked (method, path, body). */
export interface Idempotency {
  key: string;
  fingerprint: string;
}

export interface Accepted {
  ids: string[];
  replayed: boolean;
}

@Injectable()
export class MessagesService {
  /** Unsent counts per session, refreshed at most every SESSION_CACHE_MS (QUEUE_FULL is a soft cap). */
  private readonly known = new Map<string, { unsent: number; at: number }>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly producer: MessageQueueService,
    private readonly store: MessageStore,
    private readonly queues: OutboundQueues,
    private readonly sessions: SessionStore,
    private readonly idempotency: IdempotencyService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Accepts messages for a session: all are validated first, then stored (one atomic bulk when
   * there are several). Resolves only once Redis holds them.
   */
  async accept(
    sessionId: string,
    dtos: SendMessageDto[],
    clientId: string,
    idempotent: Idempotency | undefined,
  ): Promise<Accepted> {
    // A request answered before is answered the same way, first, whatever the queue, the
    // session or the clock say now (QUEUE_FULL, a deleted session, an expiresAt now past). Read
    // only: a request refused below writes nothing, not even its key. (Folding this read into
    // the key's claim would save one round trip per keyed request, but the claim would then be
    // written before validation and admission, also for an unknown session.)
    if (idempotent) {
      const earlier = await this.idempotency.lookup(
        clientId,
        idempotent.key,
        idempotent.fingerprint,
      );
      if (earlier) return this.logAccepted(sessionId, earlier);
    }
    const drafts = this.drafts(sessionId, dtos);
    await this.admit(sessionId, drafts.length);
    const fresh = drafts.map(() => newMessageId());
    const write = (ids: string[], resumed: boolean) => this.write(drafts, ids, resumed);
    if (idempotent) {
      const accepted = await this.idempotency.run(
        clientId,
        idempotent.key,
        idempotent.fingerprint,
        fresh,
        write,
      );
      return this.logAccepted(sessionId, accepted);
    }
    await write(fresh, false);
    return this.logAccepted(sessionId, { ids: fresh, replayed: false });
  }

  /** Every message checked before anything is stored: one bad message refuses the request. */
  private drafts(sessionId: string, dtos: SendMessageDto[]): Draft[] {
    return dtos.map((dto, i) =>
      this.draft(sessionId, dto, dtos.length > 1 ? `messages[${i}].` : ''),
    );
  }

  async get(id: string): Promise<MessageRecord> {
    let record = await this.store.get(id);
    if (!record) throw ApiError.notFound('MESSAGE_NOT_FOUND', `Message "${id}" does not exist`);
    if (
      record.status === 'queued' &&
      record.expiresAt &&
      Date.parse(record.expiresAt) <= Date.now()
    ) {
      // Due to expire and not yet swept: settle it now so the answer is true.
      await this.producer.expire(id, record.session);
      record = (await this.store.get(id)) ?? record;
    }
    return record;
  }

  async cancel(id: string): Promise<void> {
    const record = await this.get(id);
    const outcome = await this.producer.cancel(id, record.session);
    if (outcome.result === 'not_found')
      throw ApiError.notFound('MESSAGE_NOT_FOUND', `Message "${id}" does not exist`);
    if (outcome.result === 'conflict') {
      throw ApiError.conflict(
        'MESSAGE_NOT_CANCELLABLE',
        `Message "${id}" is ${outcome.status}: only queued messages can be cancelled`,
      );
    }
    this.logger.info({ sessionId: record.session, messageId: id }, 'message cancelled');
  }

  /** One line per request, with every id it answered (a bulk's ids in one list). */
  private logAccepted(sessionId: string, accepted: Accepted): Accepted {
    const ids =
      accepted.ids.length === 1
        ? { messageId: accepted.ids[0] }
        : { messageIds: accepted.ids, count: accepted.ids.length };
    if (accepted.replayed) this.logger.debug({ sessionId, ...ids }, 'idempotent request replayed');
    else this.logger.info({ sessionId, ...ids }, 'message accepted');
    return accepted;
  }

  private async write(drafts: Draft[], ids: string[], resumed: boolean): Promise<void> {
    const createdAt = new Date().toISOString();
    let messages: NewMessage[] = drafts.map((d, i) => ({
      to: d.to,
      job: { ...d.job, messageId: ids[i], createdAt },
    }));
    if (resumed) {
      // A retry of a request that died mid-way: only what is still missing, and never a job
      // for a message that already moved on (its job may be gone, and must not come back).
      const statuses = await Promise.all(ids.map((id) => this.store.status(id)));
      messages = messages.filter((_, i) => statuses[i] === null || statuses[i] === 'queued');
      if (messages.length === 0) return;
    }
    // The session's existence is checked in the same step that indexes the messages, before
    // any record is written (MessageStore.createAll): a session deleted since admit() gets 404
    // with nothing written.
    let written: boolean;
    try {
      // Ids minted by this request (not resumed): looked up as a whole, not one by one
      // (MessageStore.createAll, `newIds`).
      const options = { requireSession: true, newIds: !resumed };
      written =
        messages.length === 1
          ? await this.producer.enqueue(messages[0], options)
          : await this.producer.enqueueBulk(messages, options);
    } catch (err) {
      if (isRedisUnavailable(err)) throw ApiError.redisDownWhileStoring();
      throw err;
    }
    const sessionId = drafts[0].job.sessionId;
    if (!written) {
      this.known.delete(sessionId);
      throw ApiError.notFound('SESSION_NOT_FOUND', `Session "${sessionId}" does not exist`);
    }
    const k = this.known.get(sessionId);
    if (k) k.unsent += messages.length;
    // Checked again once the jobs exist: a deletion that started meanwhile may have cleared the
    // queue before they were added. Either its clearing saw our jobs, or we see it here.
    if (!(await this.stillExists(sessionId, messages.length))) {
      // Deleted while we wrote: cancel what we wrote rather than leave it for nobody.
      for (const m of messages) await this.producer.cancel(m.job.messageId, sessionId);
      throw ApiError.notFound('SESSION_NOT_FOUND', `Session "${sessionId}" does not exist`);
    }
    messagesAccepted.inc({ session: sessionId }, messages.length);
  }

  /**
   * The re-check after the write. Once the jobs exist the messages are stored and will be sent:
   * if Redis cannot answer this check, the request is still accepted (a 503 here would make the
   * client send them again); only the rare deletion racing this very write goes unseen, and the
   * log says so.
   */
  private async stillExists(sessionId: string, count: number): Promise<boolean> {
    try {
      return await this.sessions.exists(sessionId);
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      this.logger.warn(
        { sessionId, count, err },
        'messages stored, but the session could not be checked again (Redis unreachable): accepted',
      );
      return true;
    }
  }

  /**
   * 404 for an unknown session, 429 QUEUE_FULL past MAX_QUEUED_PER_SESSION. A session whose
   * counts were read within SESSION_CACHE_MS is not looked up again here: the write checks its
   * existence anyway, in the same step that indexes the messages (one round trip less per
   * message). The lookup stays for the first request of a while, so an unknown session id
   * never gets as far as a queue count (nor a Queue object in this process).
   */
  private async admit(sessionId: string, count: number): Promise<void> {
    let k = this.known.get(sessionId);
    if (!k || Date.now() - k.at > SESSION_CACHE_MS) {
      if (!(await this.sessions.exists(sessionId))) {
        this.known.delete(sessionId);
        throw ApiError.notFound('SESSION_NOT_FOUND', `Session "${sessionId}" does not exist`);
      }
      const c = await this.queues.counts(sessionId);
      k = { unsent: c.waiting + c.delayed + c.active, at: Date.now() };
      this.known.set(sessionId, k);
    }
    if (k.unsent + count > this.config.maxQueuedPerSession) {
      throw new ApiError(
        429,
        'QUEUE_FULL',
        `Session "${sessionId}" holds ${k.unsent} unsent messages (MAX_QUEUED_PER_SESSION is ${this.config.maxQueuedPerSession})`,
        { 'Retry-After': '5' },
      );
    }
  }

  private draft(sessionId: string, dto: SendMessageDto, at: string): Draft {
    const chatId = toChatId(dto.to);
    if (!chatId) {
      throw ApiError.badRequest(
        `${at}to must be a phone number with country code (15551234567, +1 555 123 4567) or a chat id (…@c.us, …@g.us)`,
        'INVALID_RECIPIENT',
      );
    }
    checkContent(dto, this.config.mediaMaxBytes, at);
    const now = Date.now();
    // The DTO let only RFC 3339 date-times with a zone through; parsed the same way here.
    const sendAt = dto.sendAt ? (parseRfc3339(dto.sendAt) ?? undefined) : undefined;
    const expiresAt = dto.expiresAt ? (parseRfc3339(dto.expiresAt) ?? undefined) : undefined;
    if (sendAt !== undefined && sendAt - now > this.config.maxScheduleDays * DAY_MS) {
      throw ApiError.badRequest(
        `${at}sendAt is more than ${this.config.maxScheduleDays} days ahead (MAX_SCHEDULE_DAYS)`,
      );
    }
    if (expiresAt !== undefined && expiresAt <= now)
      throw ApiError.badRequest(`${at}expiresAt is in the past`);
    if (expiresAt !== undefined && sendAt !== undefined && expiresAt <= sendAt) {
      throw ApiError.badRequest(`${at}expiresAt must be after sendAt`);
    }
    const content: MessageContent = {};
    if (dto.text) content.text = dto.text;
    if (dto.media) content.media = { ...dto.media };
    if (dto.replyTo) content.replyTo = dto.replyTo;
    const job: SendMessageJob = {
      messageId: '',
      sessionId,
      chatId,
      content,
      contentHash: hash('sha256', JSON.stringify(content)),
      priority: dto.priority ?? 'normal',
      createdAt: '',
    };
    if (sendAt !== undefined) job.sendAt = new Date(sendAt).toISOString();
    if (expiresAt !== undefined) job.expiresAt = new Date(expiresAt).toISOString();
    return { to: dto.to, job };
  }
}

interface Draft {
  to: string;
  job: SendMessageJob;
}

function newMessageId(): string {
  return `msg_${randomUUID().replace(/-/g, '')}`;
}
