import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './support/redis-server';
import { TestSystem, TEST_API_KEY } from './support/system';
import { waitFor } from './support/wait-for';

const ROOT = join(__dirname, '..');
const NOT_ON_WHATSAPP = '15559999999';

/** `npm run monitor -- <args>` with stdout a pipe (not a terminal), its output kept. */
class Monitor {
  private readonly chunks: string[] = [];
  private readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    // The key comes from the arguments or env of each test, never from the runner's env.
    const { API_KEY: _a, API_KEYS: _b, GATEWAY_URL: _c, ...clean } = process.env;
    this.proc = spawn('npm', ['run', '--silent', 'monitor', '--', ...args], {
      cwd: ROOT,
      env: { ...clean, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (c: Buffer) => this.chunks.push(c.toString()));
    this.proc.stderr!.on('data', (c: Buffer) => this.chunks.push(c.toString()));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }

  text(): string {
    return this.chunks.join('');
  }

  /** SIGTERM to the group (npm and the monitor). */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null) return this.proc.exitCode;
    try {
      process.kill(-this.proc.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
    return this.exited;
  }
}

async function runOnce(args: string[], env: NodeJS.ProcessEnv = {}) {
  const m = new Monitor(['--once', ...args], env);
  const code = await m.exited;
  return { code, out: m.text() };
}

/** The cells of a session's row of the table, by column header. */
function row(out: string, sessionId: string): Record<string, string> {
  const lines = out.split('\n');
  const header = lines.find((l) => l.startsWith('SESSION '));
  const line = lines.find((l) => l.startsWith(`${sessionId} `));
  if (!header || !line) throw new Error(`no row for ${sessionId} in:\n${out}`);
  const names = header.split(/\s+/);
  const cells = line.trim().split(/\s+/);
  return Object.fromEntries(names.map((n, i) => [n, cells[i]]));
}

/**
 * Issue 11, monitor CLI: `npm run monitor` against the real gateway and worker processes: the
 * table of sessions with their statuses and queue counts, the send rate and the failures, once
 * (`--once`) and live from the event stream.
 */
describe('npm run monitor', () => {
  const sys = new TestSystem('monitor');
  let failedId: string;

  beforeAll(async () => {
    await sys.start(['worker-mon']);
    await sys.readySession('alpha', { simulator: { notOnWhatsApp: [NOT_ON_WHATSAPP] } });
    await sys.readySession('beta');
    const ids: string[] = [];
    for (const to of ['15551110001', '15551110002', '15551110003']) {
      const res = await sys.api.post('/api/sessions/alpha/messages', { to, text: 'hello' });
      ids.push(res.body.id);
    }
    const failed = await sys.api.post('/api/sessions/alpha/messages', {
      to: NOT_ON_WHATSAPP,
      text: 'hello',
    });
    failedId = failed.body.id;
    for (const id of ids) await sys.waitForMessage(id, ['sent', 'delivered', 'read']);
    await sys.waitForMessage(failedId, ['failed']);
  });
  afterAll(() => sys.stop());

  it('--once prints every session with its status, worker and queue counts, the send rate and the failure', async () => {
    const { code, out } = await runOnce(['--url', sys.gateway.url, '--key', TEST_API_KEY]);
    expect(code).toBe(0);
    const queues = (await sys.api.get('/api/queue-status')).body.sessions;
    for (const id of ['alpha', 'beta']) {
      const r = row(out, id);
      expect([r.STATUS, r.WORKER, r.PHONE, r.HEALTH]).toEqual([
        'ready',
        'worker-mon',
        '15550000000',
        'ok',
      ]);
      const q = queues[id];
      expect([r.WAIT, r.ACTIVE, r.DELAYED, r.FAILED, r.PAUSED]).toEqual([
        String(q.waiting),
        String(q.active),
        String(q.delayed),
        String(q.failed),
        q.paused ? 'yes' : 'no',
      ]);
    }
    expect(row(out, 'alpha').FAILED).toBe('1');
    // Three sent in the last minute by alpha (from the message.status events), none by beta.
    expect([row(out, 'alpha')['SENT/MIN'], row(out, 'beta')['SENT/MIN']]).toEqual(['3', '0']);
    const failure = out.split('\n').find((l) => l.includes(`message ${failedId}`));
    expect(failure).toMatch(/alpha\s+message msg_\w+\s+NOT_ON_WHATSAPP\s+\S/);
    expect(out).not.toContain(TEST_API_KEY);
  });

  it('takes the key from API_KEYS and the gateway from GATEWAY_URL, and shows one session with --session', async () => {
    const { code, out } = await runOnce(['--session', 'beta'], {
      GATEWAY_URL: sys.gateway.url,
      API_KEYS: `${TEST_API_KEY},another-key-0123456789`,
    });
    expect(code).toBe(0);
    expect(row(out, 'beta').STATUS).toBe('ready');
    expect(out.split('\n').some((l) => l.startsWith('alpha '))).toBe(false);
    expect(out).not.toContain(failedId);
  });

  it('exits 1 with a clear message when the gateway cannot be reached', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { code, out } = await runOnce(['--url', url, '--key', TEST_API_KEY]);
    expect(code).toBe(1);
    expect(out).toContain(`monitor: cannot reach the gateway at ${url}`);
    expect(out).not.toContain(TEST_API_KEY);
  });

  it('exits 1 with a clear message when the gateway refuses the key, and never prints the key', async () => {
    const wrong = 'wrong-key-5e1d0c9b8a7f';
    const { code, out } = await runOnce(['--url', sys.gateway.url, '--key', wrong]);
    expect(code).toBe(1);
    expect(out).toContain('refused the API key (401)');
    expect(out).not.toContain(wrong);
  });

  it('exits 2 with the usage when the options are wrong', async () => {
    const { code, out } = await runOnce(['--url', sys.gateway.url, '--no-such-option']);
    expect(code).toBe(2);
    expect(out).toContain('Usage: npm run monitor');
  });

  it('live, on plain output: prints a session status change from the event stream, then the table with it', async () => {
    const m = new Monitor(['--url', sys.gateway.url, '--key', TEST_API_KEY]);
    try {
      // The stream's recent history is replayed first: once beta's linking shows, the monitor
      // is on the stream, and every event after the fault below reaches it.
      await waitFor('the monitor to replay beta linking', () =>
        m.text().includes('beta: session authenticating → ready'),
      );
      expect(m.text()).toContain('SESSION  STATUS');
      const fault = await sys.api.post('/api/sessions/beta/simulator/faults', {
        type: 'browser-crash',
      });
      expect(fault.status).toBe(202);
      await waitFor(
        'the monitor to print the crash and the recovery',
        () =>
          /beta: session ready → recovering \(BROWSER_CRASHED\)[\s\S]*beta: session recovering → ready/.test(
            m.text(),
          ),
        20000,
      );
      // The table printed after the recovery lists the crash among the failures, by code.
      await waitFor('a table with the crash among the failures', () =>
        /RECENT FAILURES[^\n]*\n[^\n]*\n(?:[^\n]+\n)*?[^\n]*beta\s+session \w+\s+BROWSER_CRASHED/.test(
          m.text(),
        ),
      );
    } finally {
      await m.stop();
    }
    expect(m.text()).not.toContain(TEST_API_KEY);
  });
});
