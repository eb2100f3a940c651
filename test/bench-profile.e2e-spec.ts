import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SUMMARY = join(__dirname, '..', 'scripts', 'bench', 'drain-profile.js');

function run(args: string[]): string {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The profile summary the bench points to (`--cpu-prof` of the gateway or the worker): its text
 * flame graph and folded stacks are what a performance report quotes, so they must name the
 * frames that really burnt the time.
 */
describe('bench profile summary', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wa-prof-'));
    // One function that burns nearly all the time, called from another.
    writeFileSync(
      join(dir, 'burn.js'),
      `const c = require('node:crypto');
       function burnHashes() { for (let i = 0; i < 150000; i++) c.createHash('sha256').update('x' + i).digest(); }
       function outerCaller() { burnHashes(); }
       outerCaller();`,
    );
    run(['--cpu-prof', `--cpu-prof-dir=${dir}`, join(dir, 'burn.js')]);
  }, 60000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('draws the call tree with inclusive shares, the caller above its callee', () => {
    const lines = run([SUMMARY, '--flame', dir, '5']).trim().split('\n');
    expect(lines[1]).toMatch(/^100\.0%\s+\(busy\)$/);
    const at = (name: string) => lines.findIndex((l) => l.includes(`${name} `));
    const share = (i: number) => Number(lines[i].trim().split('%')[0]);
    const outer = at('outerCaller');
    const burn = at('burnHashes');
    expect(outer).toBeGreaterThan(0);
    expect(burn).toBeGreaterThan(outer);
    // Deeper indentation: the callee is drawn under its caller.
    const indent = (i: number) => /%(\s+)/.exec(lines[i])![1].length;
    expect(indent(burn)).toBeGreaterThan(indent(outer));
    expect(share(outer)).toBeGreaterThanOrEqual(share(burn));
    expect(share(burn)).toBeGreaterThan(30);
  });

  it('prints folded stacks whose samples add up to the busy samples', () => {
    const lines = run([SUMMARY, '--folded', dir]).trim().split('\n');
    const counts = lines.map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    expect(counts.every((n) => Number.isInteger(n) && n > 0)).toBe(true);
    const hashing = lines.filter((l) => /outerCaller [^;]*;burnHashes /.test(l));
    expect(hashing.length).toBeGreaterThan(0);
    const total = counts.reduce((a, b) => a + b, 0);
    const inBurn = lines
      .filter((l) => l.includes(';burnHashes '))
      .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(inBurn / total).toBeGreaterThan(0.3);
  });
});
