import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { waitFor } from '../../../../../../test/support/wait-for';
import {
  descendantPids,
  isAlive,
  killProcessTree,
  processGroupOf,
  processTreeMemoryMb,
} from './process-tree';

/**
 * A small shell tree stands in for Chromium here (browser.int-spec.ts covers the real one):
 * sh -> { sleep, sh -> sleep } plus, in its own process group, an orphan reparented to pid 1.
 */
describe('process-tree', () => {
  const started: ChildProcess[] = [];
  const spawnTree = (script: string, detached = false): ChildProcess => {
    const child = spawn('sh', ['-c', script], { stdio: 'ignore', detached });
    started.push(child);
    return child;
  };
  afterEach(() => {
    for (const child of started.splice(0)) {
      if (child.pid) killProcessTree(child.pid);
    }
  });

  it('treats a missing pid, pid 0 and nonsense as dead', () => {
    expect(isAlive(0)).toBe(false);
    expect(isAlive(-1)).toBe(false);
    expect(isAlive(2 ** 22 + 1)).toBe(false);
    expect(isAlive(process.pid)).toBe(true);
  });

  it('counts a zombie as dead', async () => {
    // A child that exits but that nobody reaps yet: its parent `sh` is stopped.
    const parent = spawnTree('sleep 0.1 & exec sleep 30');
    const [zombie] = await waitFor('the child', () => {
      const kids = descendantPids(parent.pid!);
      return kids.length === 1 ? kids : null;
    });
    // `exec sleep 30` never waits, so the exited `sleep 0.1` stays a zombie.
    await waitFor('the child to be a zombie', () => !isAlive(zombie), 5000);
    expect(descendantPids(parent.pid!)).toContain(zombie);
  });

  it('finds children and grandchildren, and sums their memory', async () => {
    const root = spawnTree('sleep 30 & sh -c "sleep 30 & wait" & wait');
    const tree = await waitFor('the tree of 3 processes', () => {
      const pids = descendantPids(root.pid!);
      return pids.length === 3 ? pids : null;
    });
    expect(tree).not.toContain(root.pid);
    expect(processTreeMemoryMb(root.pid!)).toBeGreaterThan(0);
    // The tree's memory is more than the root's alone.
    expect(processTreeMemoryMb(root.pid!)!).toBeGreaterThan(processTreeMemoryMb(tree[0])!);
  });

  it('returns null memory and no descendants for a process that is gone', async () => {
    const child = spawnTree('exit 0');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(processTreeMemoryMb(child.pid!)).toBeNull();
    expect(descendantPids(child.pid!)).toEqual([]);
  });

  it('kills the whole tree, including an orphan only reachable through the process group', async () => {
    // `( sleep 30 & )` forks an orphan: its subshell exits, so the sleep is reparented to pid 1
    // and is no longer a descendant, but it stays in the detached group of the root.
    const root = spawnTree('( exec sleep 31 & ) ; sleep 30 & sh -c "sleep 30 & wait" & wait', true);
    const pid = root.pid!;
    const tree = await waitFor('the tree', () => {
      const pids = descendantPids(pid);
      return pids.length === 3 ? pids : null;
    });
    expect(processGroupOf(pid)).toBe(pid);
    const orphan = await waitFor('the orphan', () => findInGroup(pid, 'sleep 31'));
    expect(tree).not.toContain(orphan);

    const signalled = killProcessTree(pid);
    expect(signalled).toEqual(expect.arrayContaining([pid, ...tree, -pid]));
    await waitFor(
      'every process of the tree to die',
      () => [pid, ...tree, orphan].every((p) => !isAlive(p)),
      5000,
    );
  });

  it('never throws, not even for a pid that is gone or invalid', () => {
    expect(killProcessTree(2 ** 22 + 1)).toEqual([]);
    expect(killProcessTree(0)).toEqual([]);
    expect(killProcessTree(1)).toEqual([]);
    expect(killProcessTree(process.pid)).toEqual([]);
  });
});

/** A process of group `pgid` whose command line is `cmd`. */
function findInGroup(pgid: number, cmd: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (cmdline === cmd && processGroupOf(Number(entry)) === pgid) return Number(entry);
    } catch {
      // exited meanwhile
    }
  }
  return null;
}
