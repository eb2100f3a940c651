import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';

const SESSIONS = ['sc-1', 'sc-2', 'sc-3', 'sc-4', 'sc-5', 'sc-6'];

/**
 * Three workers, six sessions: spread by load, adopted after a worker dies, and never driven by
 * a worker that lost its lease while frozen. SESSION_LEASE_MS is 3 s here.
 */
describe('scaling out: sessions spread over workers, failover, fencing', () => {
  const sys = new TestSystem('scaling');

  beforeAll(async () => {
    await sys.start(['w-1', 'w-2', 'w-3']);
    // Let all three heartbeat before any session exists, so placement sees them all.
    await waitFor(
      'three live workers',
      async () => (await sys.api.get('/api/workers')).body.workers.length === 3,
      15000,
    );
    for (const id of SESSIONS)
      await sys.api.createSession(id, { simulator: { sendLatencyMs: 10 } });
    for (const id of SESSIONS) await sys.waitForStatus(id, 'ready', 30000);
  }, 90000);
  afterAll(() => sys.stop(), 30000);

  async function owners(): Promise<Map<string, string[]>> {
    const byWorker = new Map<string, string[]>();
    for (const s of (await sys.api.get('/api/sessions')).body.sessions as {
      id: string;
      worker: string | null;
    }[]) {
      if (!s.worker) continue;
      byWorker.set(s.worker, [...(byWorker.get(s.worker) ?? []), s.id]);
    }
    return byWorker;
  }

  async function sendAll(label: string): Promise<string[]> {
    const ids: string[] = [];
    for (const id of SESSIONS) {
      for (let i = 0; i < 5; i++) {
        const r = await sys.api.post(`/api/sessions/${id}/messages`, {
          to: '15551230000',
          text: `${label} ${id} ${i}`,
        });
        expect(r.status).toBe(202);
        ids.push(r.body.id);
      }
    }
    return ids;
  }

  async function expectSentOnce(ids: string[], timeoutMs = 30000): Promise<void> {
    const seen = async () => {
      const counts = new Map<string, number>();
      for (const id of SESSIONS)
        for (const o of await sys.outbox(id))
          counts.set(o.messageId, (counts.get(o.messageId) ?? 0) + 1);
      return counts;
    };
    await waitFor(
      'every message sent',
      async () => {
        const c = await seen();
        return ids.every((id) => c.has(id));
      },
      timeoutMs,
      100,
    );
    const c = await seen();
    expect(ids.filter((id) => c.get(id) !== 1)).toEqual([]);
  }

  it('spreads six sessions two per worker and lists the workers', async () => {
    const spread = await waitFor(
      'an even spread',
      async () => {
        const o = await owners();
        return o.size === 3 && [...o.values()].every((s) => s.length === 2) ? o : null;
      },
      30000,
      200,
    );
    expect([...spread.keys()].sort()).toEqual(['w-1', 'w-2', 'w-3']);
    // Heartbeats carry each worker's sessions; they catch up within a beat.
    const workers = await waitFor(
      'heartbeats to show the spread',
      async () => {
        const list = (await sys.api.get('/api/workers')).body.workers as {
          id: string;
          sessions: string[];
        }[];
        return list.length === 3 &&
          list.every(
            (w) => [...w.sessions].sort().join() === [...(spread.get(w.id) ?? [])].sort().join(),
          )
          ? list
          : null;
      },
      10000,
      200,
    );
    for (const w of workers) {
      expect(w).toMatchObject({
        maxSessions: 10,
        heartbeatAt: expect.any(String),
        memory: { workerMb: expect.any(Number) },
      });
    }
  }, 60000);

  it('adopts a SIGKILLed worker’s sessions within the lease plus 15 s, sending every message once', async () => {
    const before = await owners();
    const victim = 'w-1';
    const orphaned = before.get(victim) ?? [];
    expect(orphaned.length).toBeGreaterThan(0);
    const ids = await sendAll('failover');
    const killedAt = Date.now();
    // Watch the orphaned sessions' statuses: an adoption must resume from the linked device
    // in Redis, never show a new QR.
    const seen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const id of orphaned) seen.add((await sys.api.get(`/api/sessions/${id}`)).body.status);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await sys.workers.get(victim)!.kill();
    await waitFor(
      'the orphaned sessions adopted and ready',
      async () => {
        for (const id of orphaned) {
          const s = (await sys.api.get(`/api/sessions/${id}`)).body;
          if (!s.worker || s.worker === victim || s.status !== 'ready') return false;
        }
        return true;
      },
      3000 + 15000,
      100,
    );
    const takeoverMs = Date.now() - killedAt;
    watching = false;
    await watcher;
    expect(seen.has('qr')).toBe(false);
    expect(seen.has('ready')).toBe(true);
    process.stdout.write(`takeover after SIGKILL: ${takeoverMs} ms (lease 3000 ms)\n`);
    await expectSentOnce(ids);
  }, 60000);

  it('a frozen worker (SIGSTOP past its lease, then SIGCONT) sends nothing for the sessions it lost', async () => {
    const before = await owners();
    const frozen = [...before.keys()].find((w) => w !== 'w-1')!;
    const lost = before.get(frozen)!;
    const proc = sys.workers.get(frozen)!;
    process.kill(proc.appPid(), 'SIGSTOP');
    try {
      await waitFor(
        'the frozen worker’s sessions adopted',
        async () => {
          for (const id of lost) {
            const s = (await sys.api.get(`/api/sessions/${id}`)).body;
            if (!s.worker || s.worker === frozen || s.status !== 'ready') return false;
          }
          return true;
        },
        20000,
        100,
      );
      const ids = await sendAll('fenced');
      process.kill(proc.appPid(), 'SIGCONT');
      await expectSentOnce(ids);
      // After waking it finds its leases gone and stops those sessions without touching them.
      await waitFor(
        'the woken worker to drop the lost sessions',
        async () => {
          const w = (
            (await sys.api.get('/api/workers')).body.workers as { id: string; sessions: string[] }[]
          ).find((x) => x.id === frozen);
          return !!w && lost.every((id) => !w.sessions.includes(id));
        },
        15000,
        200,
      );
      for (const id of lost)
        expect((await sys.api.get(`/api/sessions/${id}`)).body.worker).not.toBe(frozen);
    } finally {
      process.kill(proc.appPid(), 'SIGCONT');
    }
  }, 60000);

  it('a worker that joins later takes its share by graceful hand-over', async () => {
    sys.startWorker('w-4');
    const ids = await sendAll('rebalance');
    const spread = await waitFor(
      'w-4 to run its fair share',
      async () => {
        const o = await owners();
        return [...o.values()].flat().length === SESSIONS.length &&
          (o.get('w-4')?.length ?? 0) >= 2 &&
          [...o.values()].every((v) => v.length <= 2)
          ? o
          : null;
      },
      40000,
      200,
    );
    expect([...spread.values()].flat().sort()).toEqual([...SESSIONS].sort());
    for (const id of spread.get('w-4')!) await sys.waitForStatus(id, 'ready', 15000);
    await expectSentOnce(ids);
  }, 60000);
});
