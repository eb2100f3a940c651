import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/core';
import type { DownloadedMedia, IncomingMessage } from '../../incoming';

/**
 * How long the simulated servers keep a received message and its media. WhatsApp keeps media
 * for weeks; a sandbox needs a day at most, and each entry may hold MEDIA_MAX_BYTES.
 */
export const SIMULATOR_INCOMING_TTL_SECONDS = 86400;

/**
 * The incoming messages the simulated WhatsApp servers hold for a session, media bytes
 * included, so a later download (by whichever worker then owns the session) gets exactly what
 * was received. In Redis under the session's hash tag: purged with the session, never logged.
 */
export class SimulatorInbox {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly sessionId: string,
  ) {}

  async store(message: IncomingMessage, data: Buffer | null): Promise<void> {
    const key = this.keys.simulatorIncoming(this.sessionId, message.waMessageId);
    const fields: Record<string, string | Buffer> = { message: JSON.stringify(message) };
    if (data) fields.data = data;
    await this.redis
      .multi()
      .del(key)
      .hset(key, fields)
      .expire(key, SIMULATOR_INCOMING_TTL_SECONDS)
      .exec();
  }

  /** The message and its media bytes (null without media); null when it is not held. */
  async find(
    waMessageId: string,
  ): Promise<{ message: IncomingMessage; media: DownloadedMedia | null } | null> {
    const h = await this.redis.hgetallBuffer(
      this.keys.simulatorIncoming(this.sessionId, waMessageId),
    );
    if (!h.message) return null;
    const message = JSON.parse(h.message.toString('utf8')) as IncomingMessage;
    const media =
      message.media && h.data
        ? { mimetype: message.media.mimetype, filename: message.media.filename, data: h.data }
        : null;
    return { message, media };
  }
}
