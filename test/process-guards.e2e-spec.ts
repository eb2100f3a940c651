import { spawn } from 'node:child_process';
import { join } from 'node:path';

const GUARDS = join(
  __dirname,
  '..',
  'dist/apps/sender-worker/apps/sender-worker/src/process-guards.js',
);

/** Runs a script in a fresh Node process; resolves with its exit code and output. */
function run(script: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

// What whatsapp-web.js's framenavigated listener does when the page navigates mid-inject.
const REJECT = `
  const { EventEmitter } = require('node:events');
  const page = new EventEmitter();
  page.on('framenavigated', async () => { throw new Error('Execution context was destroyed, most likely because of a navigation.'); });
  page.emit('framenavigated');
  setTimeout(() => { console.log('still serving other sessions'); process.exit(0); }, 200);
`;

describe('an unhandled rejection inside whatsapp-web.js', () => {
  it('kills a plain Node process (the failure we guard against)', async () => {
    const r = await run(REJECT);
    expect(r.code).not.toBe(0);
    expect(r.out).not.toContain('still serving');
  });

  it('is contained and logged by the worker, which keeps running', async () => {
    const r = await run(`
      require(${JSON.stringify(GUARDS)}).containUnhandledRejections({ error: (o, m) => console.log(m, o.err.message) });
      ${REJECT}
    `);
    expect(r.code).toBe(0);
    expect(r.out).toContain('unhandled rejection contained Execution context was destroyed');
    expect(r.out).toContain('still serving other sessions');
  });
});
