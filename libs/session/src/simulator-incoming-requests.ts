import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/core';
import type { SimulatedIncoming } from './incoming';

/**
 * How long a request waits for the owning worker to take it. The worker takes it at once when
 * it answers; this only bounds what a request nobody took (no live owner) leaves in Redis.
 */
const REQUEST_TTL_SECONDS = 600;

/**
 * The hand-over of `POST …/simulator/incoming` from the gateway to the owning worker's
 * simulator. The control channel is pub/sub, read by every worker: a media message (up to
 * MEDIA_MAX_BYTES, base64) has no place there, so the request waits in Redis under the
 * session's hash tag (purged with the session) and the command carries only its id.
 */
export class SimulatorIncomingRequests {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async put(sessionId: string, request: SimulatedIncoming): Promise<void> {
    await this.redis.set(
      this.keys.simulatorIncomingRequest(sessionId, request.waMessageId),
      JSON.stringify(request),
      'EX',
      REQUEST_TTL_SECONDS,
    );
  }

  /** The request, removed from Redis; null when there is none (taken, expired). */
  async take(sessionId: string, waMessageId: string): Promise<SimulatedIncoming | null> {
    const json = await this.redis.getdel(
      this.keys.simulatorIncomingRequest(sessionId, waMessageId),
    );
    return json ? (JSON.parse(json) as SimulatedIncoming) : null;
  }
}
