import { readFileSync, readdirSync } from 'node:fs';

/**
 * Linux /proc helpers for the Chromium process tree of a session.
 *
 * Chromium is not one process: the browser forks zygotes, which fork the renderers, the GPU
 * process and utility processes (9 processes for one idle tab here). Memory accounting and
 * killing must therefore cover the whole tree, not the pid puppeteer returns.
 */

function readProc(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** Fields of /proc/<pid>/stat after the command name, which may itself contain spaces and ')'. */
function statFields(pid: number): string[] | null {
  const stat = readProc(pid, 'stat');
  if (stat === null) return null;
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}

/** The process group of `pid` (null if gone). */
export function processGroupOf(pid: number): number | null {
  const fields = statFields(pid);
  return fields ? Number(fields[2]) : null;
}

/**
 * True if `pid` is a running process. A zombie counts as dead: `kill(pid, 0)` succeeds on it, but
 * it holds no memory and will never run again. Chromium children whose parent was killed are
 * reparented to pid 1 and can stay zombies until it reaps them.
 */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = statFields(pid)?.[0];
  // No /proc entry although kill succeeded: it just exited; otherwise Z (zombie) or X (dead).
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/**
 * /proc/<pid>/task/<tid>/children needs CONFIG_PROC_CHILDREN; some kernels (and sandboxes such as
 * gVisor) lack it. Probed once on our own process.
 */
let childrenFileSupported: boolean | undefined;
function hasChildrenFile(): boolean {
  childrenFileSupported ??= readProc(process.pid, `task/${process.pid}/children`) !== null;
  return childrenFileSupported;
}

/** Direct children from /proc/<pid>/task/<tid>/children (each thread lists the children it forked). */
function childrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return []; // gone
  }
  const children: number[] = [];
  for (const tid of tids) {
    // null when the thread exited meanwhile: it forked nothing we could still reach through it.
    const list = readProc(pid, `task/${tid}/children`) ?? '';
    for (const child of list.trim().split(/\s+/)) {
      if (child) children.push(Number(child));
    }
  }
  return children;
}

/** Fallback for kernels without /proc/<pid>/task/<tid>/children: parent map from every /proc/<pid>/stat. */
function childrenByScan(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = Number(statFields(Number(entry))?.[1]);
    if (!ppid) continue;
    const siblings = byParent.get(ppid) ?? [];
    siblings.push(Number(entry));
    byParent.set(ppid, siblings);
  }
  return byParent;
}

/** Every descendant of `pid` (children, grandchildren, ...), parents before their children. */
export function descendantPids(pid: number): number[] {
  const seen = new Set<number>([pid]);
  const result: number[] = [];
  let scanned: Map<number, number[]> | undefined;
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift() as number;
    let children: number[];
    if (hasChildrenFile()) {
      children = childrenOf(current);
    } else {
      scanned ??= childrenByScan();
      children = scanned.get(current) ?? [];
    }
    for (const child of children) {
      // A pid can show up twice when /proc changes while we read it.
      if (seen.has(child)) continue;
      seen.add(child);
      result.push(child);
      queue.push(child);
    }
  }
  return result;
}

/** VmRSS of one process in kB (0 for a zombie or a process that just exited). */
function rssKb(pid: number): number {
  const match = readProc(pid, 'status')?.match(/^VmRSS:\s+(\d+)\s+kB/m);
  return match ? Number(match[1]) : 0;
}

/**
 * Proportional set size of one process in kB: its private pages plus its share of every page it
 * shares (a page mapped by 12 processes counts 1/12 in each). Null when the kernel does not let us
 * read it (no smaps_rollup before Linux 4.14, or a process we may not inspect).
 */
function pssKb(pid: number): number | null {
  const match = readProc(pid, 'smaps_rollup')?.match(/^Pss:\s+(\d+)\s+kB/m);
  return match ? Number(match[1]) : null;
}

/**
 * Memory of `pid` and all its descendants, in MB, or null if `pid` is gone: the sum of each
 * process's PSS (RSS for a process whose PSS cannot be read).
 *
 * Why PSS and not summed RSS: Chromium is a dozen processes mapping the same binary and shared
 * memory, so summed RSS counts those pages a dozen times. Measured in the worker image (Docker,
 * one page per browser): summed RSS 853 MB per browser, PSS 220 MB, while each extra browser
 * raised the container's memory cgroup by 128 MB. PSS is the figure that adds up: the PSS of
 * every session plus the worker's own is close to what the container's memory limit counts, so
 * BROWSER_MEMORY_LIMIT_MB can be set from the container limit (README, sizing).
 */
export function processTreeMemoryMb(pid: number): number | null {
  if (!isAlive(pid)) return null;
  const totalKb = [pid, ...descendantPids(pid)].reduce((sum, p) => sum + (pssKb(p) ?? rssKb(p)), 0);
  return Math.round((totalKb / 1024) * 10) / 10;
}

function ownProcessGroup(): number | null {
  return processGroupOf(process.pid);
}

/**
 * Kills `pid` and every descendant; never throws. Returns the pids it signalled.
 *
 * - The tree is collected BEFORE any kill: once the parent dies its children are reparented to
 *   pid 1 and can no longer be found from it.
 * - The parent is signalled first so it cannot respawn a GPU or renderer process it sees dying.
 * - Then the process group `-pid`: puppeteer launches Chromium detached, as the leader of its own
 *   group, so the group also reaches processes forked after we collected the tree and processes
 *   already reparented away (e.g. when the browser itself was SIGKILLed first). Linux does not
 *   reuse a pid while it still names a process group, so `-pid` cannot hit a stranger's group; we
 *   only refuse to signal our own group.
 */
export function killProcessTree(pid: number, signal: NodeJS.Signals = 'SIGKILL'): number[] {
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return [];
  const signalled: number[] = [];
  const send = (target: number): void => {
    try {
      process.kill(target, signal);
      signalled.push(target);
    } catch {
      // Already gone (ESRCH) or not ours (EPERM): nothing more we can do.
    }
  };
  try {
    const tree = descendantPids(pid);
    send(pid);
    for (const child of tree) send(child);
    if (ownProcessGroup() !== pid) send(-pid);
  } catch {
    // Never throw from a cleanup path.
  }
  return signalled;
}

/**
 * Live processes started with `--user-data-dir=<profileDir>`: a session's browser, found by its
 * profile rather than by a pid, for a browser whose launch finished after its driver was torn
 * down (whatsapp-web.js exposes the browser only once launch, first page and user agent are
 * done, so a stop in that window has no handle on it).
 */
export function pidsUsingProfile(profileDir: string): number[] {
  const flag = `--user-data-dir=${profileDir}`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmdline = readProc(pid, 'cmdline');
    if (cmdline === null || !cmdline.split('\0').includes(flag)) continue;
    if (statFields(pid)?.[0] === 'Z') continue;
    pids.push(pid);
  }
  return pids;
}
