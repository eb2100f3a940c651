import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';

/** The contract's default pacing: one message every 1–3 s (random), at most 20 a minute. */
const MIN_GAP_MS = 1000;
const MAX_GAP_MS = 3000;
const PER_MINUTE = 20;
const WINDOW_MS = 60_000;

/**
 * Default pacing through the production path: a session created without `rateLimit`, the real
 * gateway and worker, BullMQ's limiter driven by `queue.rateLimit` + `RateLimitError`. The
 * simulator records each send's time as WhatsApp's servers would; the assertions are on those
 * recorded times (order and spacing), not on how fast the system is.
 */
describe('default pacing, end to end', () => {
  const sys = new TestSystem('pacing');

  beforeAll(() => sys.start(), 60000);
  afterAll(() => sys.stop(), 30000);

  it('leaves 1–3 s between sends and sends at most 20 in any minute: the 21st waits for the window', async () => {
    const session = 'paced';
    // No rateLimit in the body: the session gets the defaults (the test helper would turn
    // pacing off).
    const created = await sys.api.post('/api/sessions', { id: session, driver: 'simulator' });
    expect(created.status).toBe(201);
    expect(created.body.rateLimit).toEqual({
      perMinute: PER_MINUTE,
      minDelayMs: MIN_GAP_MS,
      maxDelayMs: MAX_GAP_MS,
    });
    await sys.waitForStatus(session, 'ready');

    const total = PER_MINUTE + 2;
    const ids: string[] = [];
    for (let i = 0; i < total; i++) {
      const res = await sys.api.post(`/api/sessions/${session}/messages`, {
        to: '15551230000',
        text: `paced ${i}`,
      });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }

    const outbox = await waitFor(
      `all ${total} messages in the outbox`,
      async () => {
        const sent = await sys.outbox(session);
        return sent.length >= total ? sent : null;
      },
      // 20 sends, then the window: about a minute and a few gaps.
      WINDOW_MS + 4 * MAX_GAP_MS + 20000,
      250,
    );

    // Each message once, in the order it was accepted.
    expect(outbox.map((o) => o.messageId)).toEqual(ids);
    const at = outbox.map((o) => Date.parse(o.at));

    // The random gap: never under the minimum; while under the cap, no longer than the maximum
    // plus the time a job takes to come back from the limiter (generous: the machine is shared).
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(MIN_GAP_MS);
    for (const gap of gaps.slice(0, PER_MINUTE - 1)) {
      expect(gap).toBeLessThanOrEqual(MAX_GAP_MS + 5000);
    }

    // The per-minute cap: any 21 consecutive sends span more than a minute.
    for (let i = 0; i + PER_MINUTE < at.length; i++) {
      expect(at[i + PER_MINUTE] - at[i]).toBeGreaterThanOrEqual(WINDOW_MS);
    }
    // The first 20 went out well within the minute: the 21st really waited for the window.
    expect(at[PER_MINUTE - 1] - at[0]).toBeLessThan(WINDOW_MS);

    // Pacing uses no attempts: every message was sent at its first try (the simulator then
    // acknowledges it: delivered, read).
    for (const id of ids) {
      const m = (await sys.api.get(`/api/messages/${id}`)).body;
      expect(['sent', 'delivered', 'read']).toContain(m.status);
      expect(m.attempts).toBe(1);
    }
  }, 150000);
});
