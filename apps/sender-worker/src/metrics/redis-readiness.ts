import type { Redis } from 'ioredis';
import { withTimeout } from '@app/core';

/**
 * How long `GET /readyz` waits for Redis's PONG. Short: a probe is answered well within the
 * orchestrator's own probe timeout (a kubelet default is 1 s; the manifests give 3 s).
 */
export const READY_PING_TIMEOUT_MS = 1000;

/**
 * Whether Redis answers a PING now. The worker's connection queues commands while Redis is down
 * (it waits and retries forever, see redis-connection.ts), so a PING sent then would wait for
 * the reconnect: a connection that is not `ready` answers "no" at once, and a PING that does not
 * come back within `timeoutMs` counts as no answer.
 */
export async function redisAnswers(
  redis: Pick<Redis, 'status' | 'ping'>,
  timeoutMs = READY_PING_TIMEOUT_MS,
): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  try {
    return (await withTimeout(redis.ping(), timeoutMs)) === 'PONG';
  } catch {
    return false;
  }
}
