import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { readFileSync, readlinkSync, rmSync } from 'node:fs';
import { isAlive } from './process-tree';

/**
 * Chromium guards a profile (user data dir) with three symlinks:
 * - `SingletonLock` -> `<hostname>-<pid>` of the browser that owns the profile,
 * - `SingletonSocket` -> `/tmp/org.chromium.Chromium.XXXXXX/SingletonSocket`,
 * - `SingletonCookie` -> a random cookie.
 *
 * A SIGKILLed browser leaves them behind. Chromium recovers by itself when the lock names a dead
 * pid on the same host, but NOT when it names another host: it then refuses the profile ("The
 * profile appears to be in use by another Chromium process ... on another computer") and
 * puppeteer only reports "Target closed". That is the normal case after a container restart,
 * because each container gets a new hostname. In a container pids also restart from 1, so the
 * lock's pid is often alive again as an unrelated process; we check that it is a Chromium.
 */
const SINGLETON_FILES = ['SingletonLock', 'SingletonSocket', 'SingletonCookie'] as const;

/** `<hostname>-<pid>`; the hostname may itself contain dashes. */
function parseHolder(target: string): { host: string; pid: number } | null {
  const dash = target.lastIndexOf('-');
  if (dash <= 0) return null;
  const pid = Number(target.slice(dash + 1));
  return Number.isInteger(pid) && pid > 0 ? { host: target.slice(0, dash), pid } : null;
}

/**
 * True if `pid` runs a Chromium (or Chrome / chrome-headless-shell). Unknown counts as Chromium:
 * when in doubt we keep the lock rather than open the profile twice.
 */
function looksLikeChromium(pid: number): boolean {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return /chrom/i.test(comm);
  } catch {
    return true;
  }
}

/** Chromium's socket lives in its own temp directory, which a SIGKILL leaks; remove it too. */
function removeSocketDir(socketLink: string): void {
  try {
    const dir = dirname(readlinkSync(socketLink));
    if (/^\.?(org\.chromium\.Chromium|com\.google\.Chrome)\.[A-Za-z0-9]+$/.test(basename(dir))) {
      rmSync(dir, { recursive: true, force: true });
    }
  } catch {
    // Not a symlink or already gone.
  }
}

/**
 * Removes the singleton files of `userDataDir` when the browser that held it is gone, so that a
 * new browser can open the profile.
 *
 * The lock is stale when it names another host, a pid that is not alive on this host, a live pid
 * that is not a Chromium (pid reused), or when it cannot be parsed. It is kept (removed: false)
 * when its holder is a live Chromium on this host.
 *
 * The caller MUST hold the session's lease: only one worker may own a profile. The lease, not this
 * check, is what guarantees that no other worker is using the profile, e.g. from another host
 * sharing the volume, whose browser we cannot see from here.
 */
export function clearStaleSingletonLock(userDataDir: string): {
  removed: boolean;
  holder?: string;
} {
  const lockPath = join(userDataDir, 'SingletonLock');
  let holder: string;
  try {
    holder = readlinkSync(lockPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOENT: no lock, nothing to do. EINVAL: a regular file, not Chromium's symlink: stale.
    if (code !== 'EINVAL') return { removed: false };
    holder = '';
  }

  const parsed = parseHolder(holder);
  if (
    parsed &&
    parsed.host === hostname() &&
    isAlive(parsed.pid) &&
    looksLikeChromium(parsed.pid)
  ) {
    return { removed: false, holder };
  }

  removeSocketDir(join(userDataDir, 'SingletonSocket'));
  for (const file of SINGLETON_FILES) {
    rmSync(join(userDataDir, file), { force: true });
  }
  return { removed: true, holder };
}
