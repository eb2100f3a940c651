import { spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * The drain benchmark's smoke run (a few seconds: small counts, no idle or memory phases), so
 * the script cannot rot. No figure is asserted (tests never assert on time): only that every
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
          env: { ...process.env, BENCH_DRAIN_SMOKE: '1', BENCH_DRAIN_CPU_PROF: '' },
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
  }, 120000);
});
