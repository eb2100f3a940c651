import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { EventLog, REDIS, RedisKeys, type StreamedEvent } from '@app/core';
import { comparePositions } from './stream-position';

/** Entries per XRANGE while a resumed stream replays what it missed. */
export const REPLAY_PAGE = 500;

/** Events a resuming client can no longer get: some were removed after its position. */
export interface LostEvents {
  /** The oldest position still kept (null: the stream is empty). */
  oldest: string | null;
}

/** The read side of the event stream for clients that resume (`Last-Event-ID`). */
@Injectable()
export class EventBacklog {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly log: EventLog,
  ) {}

  /**
   * Whether the stream lost events after `position` (trimmed, or deleted): then the replay
   * starts at the oldest kept and the client is told so. Redis 7 records the highest id ever
   * removed (`max-deleted-entry-id`), which says it exactly; older servers are judged by the
   * oldest entry kept (a position before it is taken as trimmed away).
   */
  async lostAfter(position: string): Promise<LostEvents | null> {
    const info = await this.streamInfo();
    if (!info) return null;
    const oldest = info.firstEntry;
    const lost =
      info.maxDeleted !== undefined
        ? comparePositions(info.maxDeleted, position) > 0
        : oldest !== null && comparePositions(position, oldest) < 0;
    return lost ? { oldest } : null;
  }

  /** The events after `position`, oldest first, a page at a time (up to the end when asked). */
  async *after(position: string): AsyncGenerator<StreamedEvent[]> {
    let from = position;
    for (;;) {
      const page = await this.log.after(from, REPLAY_PAGE);
      if (page.length > 0) yield page;
      if (page.length < REPLAY_PAGE) return;
      from = page[page.length - 1].position;
    }
  }

  private async streamInfo(): Promise<{ firstEntry: string | null; maxDeleted?: string } | null> {
    let reply: unknown[];
    try {
      reply = (await this.redis.xinfo('STREAM', this.keys.eventStream())) as unknown[];
    } catch (err) {
      // No stream yet: nothing was ever written, so nothing was lost.
      if (err instanceof Error && /no such key/i.test(err.message)) return null;
      throw err;
    }
    const field = (name: string): unknown => {
      const i = reply.indexOf(name);
      return i >= 0 && i % 2 === 0 ? reply[i + 1] : undefined;
    };
    const first = field('first-entry') as [string, string[]] | null | undefined;
    const maxDeleted = field('max-deleted-entry-id');
    return {
      firstEntry: first ? first[0] : null,
      maxDeleted: typeof maxDeleted === 'string' ? maxDeleted : undefined,
    };
  }
}
