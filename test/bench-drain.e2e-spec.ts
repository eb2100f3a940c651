import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const cgroups = require('../scripts/bench/memory-cgroup.js') as {
  CgroupUnavailable: new (message: string) => Error;
  createMemoryCgroup: (limitBytes: number) => { path: string; remove: () => Promise<boolean> };
  parseBytes: (spec: string) => number | null;
};

/**
 * Whether this run can make a memory cgroup, decided as the benchmark decides it (by making one):
 * as root with a writable cgroup filesystem, CI on this machine can; elsewhere the phase must say
 * why it skipped.
 */
async function canMakeMemoryCgroups(): Promise<boolean> {
  try {
    const probe = cgroups.createMemoryCgroup(1024 ** 3);
    await probe.remove();
    return !existsSync(probe.path);
  } catch (err) {
    if (err instanceof cgroups.CgroupUnavailable) return false;
    throw err;
  }
}

/**
 * The drain benchmark's smoke run (a few seconds: small counts, no idle phases nor Redis bytes
 * per message; the container-memory phase runs, as root in a memory cgroup), so the script
 * cannot rot. No figure is asserted (tests never assert on time): only that every
 * message was sent once, by the worker and by raw BullMQ, and that the summary is complete.
 */
describe('drain benchmark (smoke)', () => {
  it('drains every queued message once and prints its summary', async () => {
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        [join(__dirname, '..', 'scripts', 'bench', 'drain.js')],
        {
          env: {
            ...process.env,
            BENCH_DRAIN_SMOKE: '1',
            BENCH_DRAIN_CPU_PROF: '',
            BENCH_DRAIN_CONTAINER_MEMORY: '1g',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      child.stdout.on('data', (c: Buffer) => output.push(c.toString()));
      child.stderr.on('data', (c: Buffer) => output.push(c.toString()));
      child.on('exit', resolve);
    });
    if (code !== 0) process.stderr.write(output.join(''));
    expect(code).toBe(0);
    const lines = output.join('').trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]);
    const { messages, sessions, perSession } = summary.settings;
    expect(summary.problems).toEqual([]);
    expect(summary.raw.one.messages).toBe(messages);
    expect(summary.raw.many.messages).toBe(sessions * perSession);
    expect(summary.worker.one).toMatchObject({ messages, duplicates: 0 });
    expect(summary.worker.many).toMatchObject({ messages: sessions * perSession, duplicates: 0 });
    expect(summary.ratios).toEqual({
      oneSession: expect.any(Number),
      manySessions: expect.any(Number),
    });
    expect(summary.connections.count).toBeGreaterThan(0);
    expect(summary.roundTrips.perMessage).toEqual(expect.any(Number));
    // The fsync ceiling (AOF always, the default): measured round trips, and the rate they allow.
    const ceiling = summary.fsyncCeiling;
    for (const k of ['writeUs', 'readUs', 'oneSessionMaxRate', 'oneSessionMaxRatio'])
      expect(Number.isFinite(ceiling[k]) && ceiling[k] > 0).toBe(true);
    expect(ceiling.oneSessionMaxRate).toBeCloseTo(
      1e6 / (ceiling.writesPerSend * ceiling.writeUs),
      -1,
    );
    expect(ceiling.oneSessionMaxRatio).toBeCloseTo(
      ceiling.oneSessionMaxRate / summary.raw.one.rate,
      1,
    );
    // The worker's RSS in a container (1 GiB memory cgroup): measured where a cgroup can be
    // made, with the limit Node read in it, else skipped with the reason.
    if (await canMakeMemoryCgroups()) {
      const c = summary.containerMemory;
      expect(c).toMatchObject({
        limitMb: 1024,
        constrainedMemoryMb: 1024,
        sessions,
        messages: sessions * perSession,
        duplicates: 0,
      });
      expect(c.rssMb).toBeGreaterThan(0);
      expect(c.heapLimitMb).toBeGreaterThan(0);
      expect(c.heapLimitMb).toBeLessThanOrEqual(c.heapLimitMbHere);
    } else {
      // Only the reasons that mean "not allowed here"; anything else fails the run (problems).
      expect(summary.containerMemory).toEqual({
        skipped: expect.stringMatching(
          /^(not running as root|no cgroup memory controller mounted|cgroup v2: memory is not enabled|cannot (create|set) .*: (EACCES|EPERM|EROFS)$)/,
        ),
      });
    }
  }, 120000);
});

describe('memory cgroup of the drain benchmark', () => {
  it('reads sizes as Docker writes them', () => {
    expect(cgroups.parseBytes('1g')).toBe(1024 ** 3);
    expect(cgroups.parseBytes('3100m')).toBe(3100 * 1024 ** 2);
    expect(cgroups.parseBytes('512MiB')).toBe(512 * 1024 ** 2);
    expect(cgroups.parseBytes('1.5G')).toBe(1.5 * 1024 ** 3);
    expect(cgroups.parseBytes('1073741824')).toBe(1024 ** 3);
    expect(cgroups.parseBytes('1gb')).toBe(1024 ** 3);
    expect(cgroups.parseBytes('0')).toBeNull();
    for (const bad of ['lots', '', '1ib', '1 tb'])
      expect(() => cgroups.parseBytes(bad)).toThrow(/not a size/);
    // A limit no worker can start under is a typo, not a measurement.
    for (const tiny of ['0.4', '5b', '1m'])
      expect(() => cgroups.parseBytes(tiny)).toThrow(/64 MiB/);
  });

  it('says why it cannot make one when not root', () => {
    const getuid = jest.spyOn(process, 'getuid').mockReturnValue(1000);
    try {
      expect(() => cgroups.createMemoryCgroup(1024 ** 3)).toThrow(cgroups.CgroupUnavailable);
      expect(() => cgroups.createMemoryCgroup(1024 ** 3)).toThrow('not running as root');
    } finally {
      getuid.mockRestore();
    }
  });
});
