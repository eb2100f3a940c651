import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';

const CRASHES = [
  'browser-crash',
  'frame-detached',
  'session-closed',
  'conflict',
  'memory-pressure',
] as const;

/**
 * Every simulator fault, injected while messages flow: the session is paused at once, recovers
 * by itself, and every accepted message is sent exactly once, without using its attempts.
 */
describe('session faults', () => {
  const sys = new TestSystem('faults', { extra: { SEND_TIMEOUT_MS: '700' } });

  beforeAll(() => sys.start(), 60000);
  afterAll(() => sys.stop(), 30000);

  async function sendSome(session: string, n: number, label: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await sys.api.post(`/api/sessions/${session}/messages`, {
        to: '15551230000',
        text: `${label} ${i}`,
      });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    return ids;
  }

  async function expectEachSentOnce(session: string, ids: string[]): Promise<void> {
    await waitFor(
      'every message sent',
      async () => {
        const sent = new Set((await sys.outbox(session)).map((o) => o.messageId));
        return ids.every((id) => sent.has(id));
      },
      20000,
      50,
    );
    const outbox = await sys.outbox(session);
    for (const id of ids) expect(outbox.filter((o) => o.messageId === id)).toHaveLength(1);
  }

  it.each(CRASHES)('%s: pauses, recovers to ready, and loses nothing', async (fault) => {
    const session = `f-${fault}`;
    await sys.readySession(session, { simulator: { sendLatencyMs: 30 } });
    const ids = await sendSome(session, 10, fault);
    const res = await sys.api.post(`/api/sessions/${session}/simulator/faults`, { type: fault });
    expect(res.status).toBe(202);
    const lost = await sys.api.get(`/api/sessions/${session}`);
    expect(lost.body.status).not.toBe('ready');
    expect(lost.body.queue.paused).toBe(true);
    const more = await sendSome(session, 5, `${fault} after`);

    const back = await sys.waitForStatus(session, 'ready', 10000);
    expect(back.lastError.code).toMatch(/^[A-Z_]+$/);
    expect(back.health.recoveries).toBeGreaterThanOrEqual(1);
    await expectEachSentOnce(session, [...ids, ...more]);
    for (const id of [...ids, ...more]) {
      const m = (await sys.api.get(`/api/messages/${id}`)).body;
      expect(m.attempts).toBeLessThanOrEqual(2);
      expect(m.error).toBeNull();
    }
  });

  it('logout: shows a new QR, links again by itself, then sends what waited', async () => {
    await sys.readySession('f-logout', { simulator: { linkAfterMs: 1000 } });
    await sys.api.post('/api/sessions/f-logout/simulator/faults', { type: 'logout' });
    const out = await sys.waitForStatus('f-logout', 'qr', 3000);
    expect(out.queue.paused).toBe(true);
    expect(out.lastError.code).toBe('LOGGED_OUT');
    const ids = await sendSome('f-logout', 3, 'after logout');
    await sys.waitForStatus('f-logout', 'ready', 5000);
    await expectEachSentOnce('f-logout', ids);
  });

  it('hang: the send times out (unknown outcome), the session restarts, the message is reconciled and sent once', async () => {
    await sys.readySession('f-hang');
    // Warm the number-check cache, so the hang meets the send itself.
    const [warm] = await sendSome('f-hang', 1, 'warm-up');
    await sys.waitForMessage(warm, ['sent', 'delivered', 'read']);
    await sys.api.post('/api/sessions/f-hang/simulator/faults', { type: 'hang' });
    const [id] = await sendSome('f-hang', 1, 'hung');
    const recovering = await waitFor(
      'the hang to be detected',
      async () => {
        const s = await sys.api.get('/api/sessions/f-hang');
        return s.body.lastError?.code === 'SEND_TIMEOUT' ? s.body : null;
      },
      5000,
    );
    expect(recovering.health.healthy).toBe(false);
    await sys.waitForStatus('f-hang', 'ready', 10000);
    await expectEachSentOnce('f-hang', [id]);
    const m = (await sys.api.get(`/api/messages/${id}`)).body;
    expect(m.history.map((h: { status: string }) => h.status)).toContain('sent');
  });

  it('hang before the send (number check) is caught by the same timeout', async () => {
    await sys.readySession('f-hang-check');
    await sys.api.post('/api/sessions/f-hang-check/simulator/faults', { type: 'hang' });
    const [id] = await sendSome('f-hang-check', 1, 'hung check');
    await waitFor(
      'the hang to be detected',
      async () => {
        const s = await sys.api.get('/api/sessions/f-hang-check');
        return s.body.lastError?.code === 'NUMBER_CHECK_TIMEOUT';
      },
      5000,
    );
    await expectEachSentOnce('f-hang-check', [id]);
  });

  it('a browser that keeps crashing for a while is retried with backoff until it stays up', async () => {
    await sys.readySession('f-flap');
    const crashedAt = Date.now();
    await sys.api.post('/api/sessions/f-flap/simulator/faults', {
      type: 'browser-crash',
      durationMs: 2000,
    });
    const ids = await sendSome('f-flap', 3, 'flap');
    const back = await sys.waitForStatus('f-flap', 'ready', 15000);
    // One recovery, several relaunches: back only once the browser stopped crashing.
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(2000);
    expect(back.health.recoveries).toBe(1);
    expect(back.lastError.code).toBe('BROWSER_CRASHED');
    await expectEachSentOnce('f-flap', ids);
  });
});
