import { SessionDriverError } from '@app/session';

export interface RecyclePolicy {
  /** BROWSER_MEMORY_LIMIT_MB: recycle the browser above it; 0 = never. */
  memoryLimitMb?: number;
  /** BROWSER_RECYCLE_HOURS in ms: recycle a browser this old; 0 = never. */
  recycleAfterMs?: number;
}

/**
 * Why the browser should be replaced now, or null. The first seed's root cause was Chromium
 * growing until the container died: past BROWSER_MEMORY_LIMIT_MB (or BROWSER_RECYCLE_HOURS)
 * the browser is replaced on purpose, queue paused, after the send in flight, with the saved
 * auth. Memory comes first: it is the urgent reason.
 */
export function recycleCause(
  policy: RecyclePolicy,
  browser: { memoryMb?: number; launchedAt: number },
  now = Date.now(),
): SessionDriverError | null {
  const { memoryLimitMb = 0, recycleAfterMs = 0 } = policy;
  const { memoryMb } = browser;
  if (memoryLimitMb > 0 && memoryMb !== undefined && memoryMb > memoryLimitMb) {
    return new SessionDriverError(
      'MEMORY_LIMIT',
      'session',
      `the browser uses ${memoryMb} MB, above BROWSER_MEMORY_LIMIT_MB (${memoryLimitMb}): recycling it`,
    );
  }
  if (recycleAfterMs > 0 && now - browser.launchedAt > recycleAfterMs) {
    return new SessionDriverError(
      'SCHEDULED_RECYCLE',
      'session',
      'the browser reached BROWSER_RECYCLE_HOURS: recycling it',
    );
  }
  return null;
}
