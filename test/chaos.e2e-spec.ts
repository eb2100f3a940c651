import { spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * The chaos suite in its short form (`npm run chaos` runs the full one): worker SIGKILLs,
 * every simulator fault, a Redis SIGKILL and restart from AOF, a gateway SIGKILL, while a
 * client posts with Idempotency-Keys and retries. Nothing may be lost, sent twice or failed.
 */
describe('chaos (short)', () => {
  it('loses nothing, duplicates nothing, fails nothing', async () => {
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        [join(__dirname, '..', 'scripts', 'chaos.js'), '--short'],
        {
          env: { ...process.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      child.stdout.on('data', (c: Buffer) => output.push(c.toString()));
      child.stderr.on('data', (c: Buffer) => output.push(c.toString()));
      child.on('exit', resolve);
    });
    const lines = output.join('').trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]);
    if (code !== 0) process.stderr.write(output.join(''));
    expect(summary).toMatchObject({
      passed: true,
      lost: 0,
      duplicated: 0,
      failed: 0,
      notDrained: 0,
    });
    expect(summary.accepted).toBeGreaterThanOrEqual(300);
    expect(summary.kills).toEqual({ worker: 2, redis: 1, gateway: 1 });
    for (const [type, fault] of Object.entries<any>(summary.faults)) {
      expect({ type, injected: fault.injected > 0, recovered: fault.unrecovered === 0 }).toEqual({
        type,
        injected: true,
        recovered: true,
      });
      if (type !== 'hang')
        expect({ type, detectionMs: fault.detectionMs.max }).toEqual({
          type,
          detectionMs: expect.any(Number),
        });
      if (type !== 'hang') expect(fault.detectionMs.max).toBeLessThan(1000);
      expect(fault.recoveryMs.max).toBeLessThan(10000);
    }
    expect(code).toBe(0);
  }, 180000);
});
