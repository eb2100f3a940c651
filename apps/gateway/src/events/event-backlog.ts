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
   * Whether the stream lost events after `position`: then the replay starts at the oldest kept
   * and the client is told so. Trimming (retention) removes the oldest entries, so a position
   * older than the oldest kept, in a stream that had entries removed, has lost some (or at
   * worst only the entry it names: a reset too many, never one too few). A single entry
   * deleted after the position (XDEL: Redis 7 records the highest id deleted) counts too.
   */
  async lostAfter(position: string): Promise<LostEvents | null> {
    const info = await this.streamInfo();
    if (!info) return null;
    // Redis 6 does not count entries added: assume some were removed.
    const removedAny = info.entriesAdded === undefined || info.entriesAdded > info.length;
    const lost =
      info.oldest === null
        ? removedAny && comparePositions(info.lastGenerated, position) > 0
        : (removedAny && comparePositions(position, info.oldest) < 0) ||
          (info.maxDeleted !== undefined && comparePositions(info.maxDeleted, position) > 0);
    return lost ? { oldest: info.oldest } : null;
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

  private async streamInfo(): Promise<StreamInfo | null> {
    let reply: unknown[];
    try {
      reply = (await this.redis.xinfo('STREAM', this.keys.eventStream())) as unknown[];
    } catch (err) {
      // No stream yet: nothing was ever written, so nothing was lost.
      if (err instanceof Error && /no such key/i.test(err.message)) return null;
      throw err;
    }
    const field = (name: string): unknown => {
      for (let i = 0; i < reply.length - 1; i += 2) if (reply[i] === name) return reply[i + 1];
      return undefined;
    };
    const first = field('first-entry') as [string, string[]] | null | undefined;
    const maxDeleted = field('max-deleted-entry-id');
    const entriesAdded = field('entries-added');
    return {
      length: Number(field('length')),
      oldest: first ? first[0] : null,
      lastGenerated: String(field('last-generated-id')),
      maxDeleted: typeof maxDeleted === 'string' ? maxDeleted : undefined,
      entriesAdded: entriesAdded === undefined ? undefined : Number(entriesAdded),
    };
  }
}

/** What XINFO STREAM says that matters here (the last two from Redis 7 on). */
interface StreamInfo {
  length: number;
  oldest: string | null;
  lastGenerated: string;
  maxDeleted?: string;
  entriesAdded?: number;
}
