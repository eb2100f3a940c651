import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';

/** Pids of running Chromium processes (any profile), from /proc. */
function chromiumPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && /(^|\/)chromium(\0|$)|\/usr\/lib\/chromium\/chromium/.test(cmd))
        pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/**
 * The real driver in the world we have: whatsapp-web.js and the real Chromium, with WhatsApp
 * unreachable. The session must fail to start with a clear reason, retry with capped backoff,
 * keep its messages queued, and leave no browser behind.
 */
describe('wwebjs driver, offline (real whatsapp-web.js, real Chromium)', () => {
  const dataDir = `/tmp/wa-e2e-sessions-${process.pid}`;
  const sys = new TestSystem('wwebjs-offline', {
    extra: {
      RECOVERY_MAX_ATTEMPTS: '3',
      WWEBJS_START_TIMEOUT_MS: '30000',
      SESSION_DATA_DIR: dataDir,
    },
  });
  const before = new Set(chromiumPids());

  beforeAll(() => sys.start(['worker-w']), 60000);
  afterAll(async () => {
    await sys.stop();
    // A SIGKILLed worker's Chromium exits a moment later, writing its profile as it goes.
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }, 30000);

  it('fails to start with a clear reason, retries, keeps messages queued, and leaks no Chromium', async () => {
    const created = await sys.api.post('/api/sessions', { id: 'real-offline', driver: 'wwebjs' });
    expect(created.status).toBe(201);
    const msg = await sys.api.post('/api/sessions/real-offline/messages', {
      to: '15551234567',
      text: 'held',
    });
    expect(msg.status).toBe(202);

    const failed = await sys.waitForStatus('real-offline', 'failed', 120000);
    expect(failed.lastError.code).toBe('START_FAILED');
    expect(failed.lastError.message).toMatch(
      /WhatsApp Web could not be opened: .*(ERR_NAME_NOT_RESOLVED|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION|ERR_ADDRESS)/,
    );
    expect(failed.lastError.message).toMatch(/gave up after 3 recovery attempts/);
    expect(failed.queue.paused).toBe(true);

    const held = (await sys.api.get(`/api/messages/${msg.body.id}`)).body;
    expect(held).toMatchObject({ status: 'queued', attempts: 0 });

    // No browser of ours is left running between or after the tries.
    await waitFor(
      'no Chromium left',
      () => chromiumPids().filter((p) => !before.has(p)).length === 0,
      10000,
      100,
    );

    const del = await sys.api.delete('/api/sessions/real-offline');
    expect(del.status).toBe(202);
    expect((await sys.api.get(`/api/messages/${msg.body.id}`)).body.status).toBe('cancelled');
  }, 180000);
});

/** Live Chromium processes launched on one session's profile (its user data dir names the id). */
function chromiumPidsOf(sessionId: string): number[] {
  return chromiumPids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .some((a) => a.startsWith('--user-data-dir=') && a.endsWith(`-${sessionId}`));
    } catch {
      return false;
    }
  });
}

/**
 * Issue 8, point 21: a session that cannot reach WhatsApp keeps relaunching its browser; a
 * delete in the middle of that must cancel the recovery and kill what it launched, a browser
 * whose launch completes after the stop included.
 */
describe('wwebjs driver, offline: delete during recovery', () => {
  const dataDir = `/tmp/wa-e2e-recovering-${process.pid}`;
  const sys = new TestSystem('wwebjs-recovering', {
    extra: {
      RECOVERY_MAX_ATTEMPTS: '50',
      WWEBJS_START_TIMEOUT_MS: '30000',
      SESSION_DATA_DIR: dataDir,
    },
  });

  beforeAll(() => sys.start(['worker-r']), 60000);
  afterAll(async () => {
    await sys.stop();
    // A SIGKILLed worker's Chromium exits a moment later, writing its profile as it goes.
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }, 30000);

  it('leaves no Chromium of the session a few seconds after it is deleted while recovering', async () => {
    const created = await sys.api.post('/api/sessions', { id: 'real-retrying', driver: 'wwebjs' });
    expect(created.status).toBe(201);
    await sys.waitForStatus('real-retrying', 'recovering', 60000);
    // Delete the moment a new browser of the session appears: its launch is still under way.
    const seen = new Set(chromiumPidsOf('real-retrying'));
    await waitFor(
      'a browser launched by the recovery',
      () => chromiumPidsOf('real-retrying').some((p) => !seen.has(p)),
      60000,
      10,
    );
    const del = await sys.api.delete('/api/sessions/real-retrying');
    expect(del.status).toBe(202);
    await waitFor(
      'no Chromium of the deleted session',
      () => chromiumPidsOf('real-retrying').length === 0,
      10000,
      100,
    );
  }, 180000);
});
