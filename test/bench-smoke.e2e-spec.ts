import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

/** The whole run in smoke mode, whatever bench settings the caller's shell holds. */
function smokeEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_SMOKE: '1' };
  for (const name of Object.keys(env)) {
    if (name.startsWith('BENCH_') && name !== 'BENCH_SMOKE') delete env[name];
  }
  return env;
}

/**
 * `npm run bench` in smoke mode (every phase 1 s, its own private redis-servers): the benchmark
 * must keep running, and every phase must store exactly what was answered 202. Its figures are
 * machine- and load-dependent and are never asserted on (issue 13: tests never assert on time).
 */
describe('npm run bench (smoke mode)', () => {
  it('completes, every request answered as expected and every count check matching', async () => {
    const chunks: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'scripts/bench.js')], {
        cwd: ROOT,
        env: smokeEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', (c: Buffer) => chunks.push(c.toString()));
      child.stderr.on('data', (c: Buffer) => chunks.push(c.toString()));
      child.once('error', reject);
      child.once('exit', resolve);
    });
    const output = chunks.join('');
    const lines = output.trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]) as {
      smoke: boolean;
      errors: number;
      countCheckFailures: number;
      gateway: Record<string, number | null>;
      httpFloor: { perSec: number };
      nestFloor: { perSec: number };
      bullmqFloor: Record<string, unknown>;
      targets: Record<string, 'PASS' | 'FAIL'>;
      targetsTheFloorMissed: Record<string, unknown>;
    };
    expect({
      code,
      errors: summary.errors,
      countCheckFailures: summary.countCheckFailures,
    }).toEqual({ code: 0, errors: 0, countCheckFailures: 0 });
    expect(summary.smoke).toBe(true);
    // Every phase ran (a figure of 0 would mean a phase stored nothing).
    expect(summary.gateway.singlePerSec).toBeGreaterThan(0);
    expect(summary.gateway.idempotentPerSec).toBeGreaterThan(0);
    expect(summary.gateway.bulkPerSec).toBeGreaterThan(0);
    // Both floors answered (a floor server that failed to start throws before the summary).
    expect(summary.httpFloor.perSec).toBeGreaterThan(0);
    expect(summary.nestFloor.perSec).toBeGreaterThan(0);
    // The NestJS + BullMQ floor stored what it answered in every configuration (the count
    // checks above): Queue.add or addBulk per loop turn, in one process and in two; and bulk.
    type Floor = { processes: number; coalesced: boolean; vsRawAdd: number; p99Ms: number };
    const floor = summary.bullmqFloor as unknown as Record<string, Floor> & {
      bulk: { perSec: number; vsRawFlowBulk: number };
    };
    const configs = ['single', 'singleReplicas', 'coalesced', 'coalescedReplicas'].map(
      (key) => floor[key],
    );
    expect(configs.map((c) => [c.processes, c.coalesced])).toEqual([
      [1, false],
      [2, false],
      [1, true],
      [2, true],
    ]);
    for (const c of configs) expect(c.vsRawAdd).toBeGreaterThan(0);
    expect(floor.bulk.perSec).toBeGreaterThan(0);
    expect(output).toContain('NestJS + BullMQ floor: addBulk per loop turn, 2 processes');
    // A target is named exactly when the gateway missed it and no configuration of the floor met
    // it in this run: rate, and p99 for single messages.
    const single = configs.map((c) => ({
      processes: c.processes,
      coalesced: c.coalesced,
      ratio: c.vsRawAdd,
      p99Ms: c.p99Ms,
    }));
    const rows = [
      {
        name: 'enqueue (single)',
        target: 0.5,
        floors: single,
        meets: (x: { ratio: number; p99Ms?: number }) => x.ratio >= 0.5 && (x.p99Ms ?? 0) <= 20,
      },
      {
        name: 'enqueue with Idempotency-Key',
        target: 0.4,
        floors: single.map(({ processes, coalesced, ratio }) => ({ processes, coalesced, ratio })),
        meets: (x: { ratio: number }) => x.ratio >= 0.4,
      },
      {
        name: 'bulk ×1000',
        target: 0.7,
        floors: [{ processes: 1, coalesced: false, ratio: floor.bulk.vsRawFlowBulk }],
        meets: (x: { ratio: number }) => x.ratio >= 0.7,
      },
    ];
    const expected: Record<string, unknown> = {};
    for (const row of rows) {
      const known = row.floors.every((x) => x.ratio !== null);
      if (summary.targets[row.name] === 'FAIL' && known && !row.floors.some(row.meets))
        expected[row.name] = { target: row.target, floors: row.floors };
    }
    expect(summary.targetsTheFloorMissed).toEqual(expected);
    expect(output).not.toContain('✗');
  }, 180_000);
});
