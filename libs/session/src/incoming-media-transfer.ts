import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/core';
import type { DownloadedMedia } from './incoming';

/**
 * Long enough for the gateway to read it right after the worker's answer, short enough that
 * an answer nobody read (the gateway gave up or died) does not keep megabytes around.
 */
const TRANSFER_TTL_MS = 60_000;

/**
 * The hand-over of an incoming message's media from the owning worker (which downloaded it) to
 * the gateway (which serves `GET …/incoming/:waMessageId/media`). The control channel is
 * pub/sub: a reply of megabytes would go through every subscriber's output buffer (Redis cuts a
 * pub/sub client off above 32 MB by default) and be parsed as JSON on the gateway's event loop.
 * So the bytes go into one short-lived Redis hash under the session's hash tag, named by a
 * token the gateway chose, and the reply carries only the metadata.
 */
export class IncomingMediaTransfer {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async put(sessionId: string, token: string, media: DownloadedMedia): Promise<void> {
    const key = this.keys.incomingMediaTransfer(sessionId, token);
    await this.redis
      .multi()
      .hset(key, { mimetype: media.mimetype, filename: media.filename ?? '', data: media.data })
      .pexpire(key, TRANSFER_TTL_MS)
      .exec();
  }

  /** The media, removed from Redis; null when there is none (never written, or expired). */
  async take(sessionId: string, token: string): Promise<DownloadedMedia | null> {
    const key = this.keys.incomingMediaTransfer(sessionId, token);
    const result = await this.redis.multi().hgetallBuffer(key).del(key).exec();
    const [err, fields] = result?.[0] ?? [null, null];
    if (err) throw err;
    const h = fields as Record<string, Buffer> | null;
    if (!h?.data || !h.mimetype) return null;
    const filename = h.filename?.toString('utf8');
    return { mimetype: h.mimetype.toString('utf8'), filename: filename || null, data: h.data };
  }
}
