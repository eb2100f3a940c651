import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LOGGER, REDIS, RedisKeys } from '@app/core';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { WEBHOOK_ROUTER_GROUP } from '../webhooks/webhook-router.service';

/**
 * Keeps the event stream to EVENT_STREAM_RETENTION_MS (the live stream's resume window), run
 * every 30 s by the maintenance queue: XTRIM MINID to the older of the retention cut and the
 * oldest entry the webhook router has not acknowledged, so nothing leaves the stream before it
 * is routed, however long the routers were down. Without the router group (no worker has
 * started its router on this prefix yet) nothing is trimmed.
 */
@Injectable()
export class EventStreamTrimmer {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** One trim; returns how many entries it removed. */
  async trim(now = Date.now()): Promise<number> {
    const unrouted = await this.oldestUnrouted();
    if (unrouted === null) return 0;
    const cut = `${Math.max(0, now - this.config.eventStreamRetentionMs)}-0`;
    const minId = compareIds(cut, unrouted) <= 0 ? cut : unrouted;
    const removed = (await this.redis.call(
      'XTRIM',
      this.keys.eventStream(),
      'MINID',
      minId,
    )) as number;
    if (removed > 0) this.logger.debug({ removed, minId }, 'event stream trimmed');
    return removed;
  }

  /**
   * The lowest id the router group may still need: its oldest pending entry, or the last one it
   * read (everything after it is unread). The group is read BEFORE its pending list: an entry
   * read in between is then either after the last-read id seen or in the pending list seen.
   * Null when there is no group.
   */
  private async oldestUnrouted(): Promise<string | null> {
    let groups: unknown[][];
    try {
      groups = (await this.redis.call('XINFO', 'GROUPS', this.keys.eventStream())) as unknown[][];
    } catch (err) {
      if (String((err as Error).message).includes('no such key')) return null;
      throw err;
    }
    const group = groups.map(fieldsOf).find((g) => g.get('name') === WEBHOOK_ROUTER_GROUP);
    if (!group) return null;
    const lastRead = String(group.get('last-delivered-id'));
    const [count, oldestPending] = (await this.redis.xpending(
      this.keys.eventStream(),
      WEBHOOK_ROUTER_GROUP,
    )) as [number, string | null, string | null, unknown];
    if (count > 0 && oldestPending && compareIds(oldestPending, lastRead) < 0) return oldestPending;
    return lastRead;
  }
}

function fieldsOf(flat: unknown[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return m;
}

/** Orders two stream ids (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}
