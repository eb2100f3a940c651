import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { LOGGER } from '@app/core';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import { EventBacklog } from './event-backlog';
import { EventStreamClient, type CloseReason, type StreamFilter } from './event-stream-client';
import { EventStreamHub } from './event-stream-hub';
import { resetFrame } from './sse-frames';
import { toStreamEntry } from './stream-entry';

/** What one `GET /api/events` asked for, validated. */
export interface StreamRequest extends StreamFilter {
  /** Resume after this position (Last-Event-ID); absent: live events from now on. */
  after?: string;
}

/**
 * Headers of an event stream. No compression (nothing here compresses, and a proxy that does
 * would hold events back), no caching, and `X-Accel-Buffering: no` so nginx passes each event
 * on as it comes.
 */
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

/**
 * Opens event streams: the answer itself (headers, retry hint, heartbeats), the replay of a
 * resumed client's backlog, and its hand-over to the live fan-out with no gap and no
 * duplicate: the client joins the hub first and holds live events back, the backlog is read
 * after that, then the held events past the last replayed position follow.
 */
@Injectable()
export class EventStreamService {
  constructor(
    private readonly hub: EventStreamHub,
    private readonly backlog: EventBacklog,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Everything that can fail with an error answer is done before the first byte is written;
   * from then on a failure ends the stream, and the client resumes from its Last-Event-ID.
   */
  async open(reply: FastifyReply, request: StreamRequest): Promise<void> {
    const lost = request.after !== undefined ? await this.backlog.lostAfter(request.after) : null;
    const headers = { ...reply.getHeaders(), ...SSE_HEADERS } as Record<string, string>;
    reply.hijack();
    const log = this.logger.child({ stream: { session: request.session, after: request.after } });
    const client = new EventStreamClient(
      reply.raw,
      { session: request.session, types: request.types },
      request.after ?? null,
      this.config.eventsHeartbeatMs,
      (reason: CloseReason) => {
        this.hub.unsubscribe(client);
        if (reason === 'too-slow' || reason === 'backlog-too-large')
          log.warn({ reason }, 'event stream client could not keep up: closed');
        else log.debug({ reason }, 'event stream closed');
      },
    );
    try {
      // Subscribed before the first byte: a client that has read the retry hint is sure to get
      // every event appended after that.
      await this.hub.subscribe(client);
      client.start(headers);
      if (lost) client.writeFrame(resetFrame(lost.oldest));
      if (request.after !== undefined) await this.replay(client, request.after);
      client.goLive();
    } catch (err) {
      log.warn({ err }, 'event stream replay failed: closed');
      client.close('error');
    }
  }

  private async replay(client: EventStreamClient, after: string): Promise<void> {
    for await (const page of this.backlog.after(after)) {
      for (const { position, event } of page) {
        if (client.isClosed) return;
        if (!client.replay(toStreamEntry(position, event))) await client.drained();
      }
    }
  }
}
