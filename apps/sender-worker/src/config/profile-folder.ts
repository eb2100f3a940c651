import { join } from 'node:path';

/**
 * The folder under SESSION_DATA_DIR where this worker keeps its browser profiles: one per host
 * (`<SESSION_DATA_DIR>/<hostname>`). Scaled workers share one volume, and Chromium's profile lock
 * names its host: a lock from another host cannot be checked from here and counts as stale, so
 * in a shared folder a worker that adopted a session from a frozen one would remove the frozen
 * worker's live profile. In its own folder it never sees another host's profile; a session that
 * moves restores from the Redis auth backup (SESSION_STORE=redis). Workers on one host share
 * the folder (their locks are checked by pid), as a single-host setup always did.
 */
export function workerProfileFolder(sessionDataDir: string, host: string): string {
  // A hostname is [A-Za-z0-9.-]; anything else (or nothing) must not escape the volume.
  const safe = host.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || 'localhost';
  return join(sessionDataDir, safe);
}
