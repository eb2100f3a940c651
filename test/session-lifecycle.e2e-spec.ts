import { Redis } from 'ioredis';
import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';
import type { AppProcess } from './support/processes';

/** Every key under the system's prefix (SCAN, test-side only). */
async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    out.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

/** Waits until a worker (LOG_LEVEL=info) has logged `msg` for `sessionId`. */
function waitForLog(proc: AppProcess, sessionId: string, msg: string, timeoutMs: number) {
  return waitFor(
    `${proc.name} to log "${msg}" for ${sessionId}`,
    () =>
      proc
        .logs()
        .split('\n')
        .some((line) => {
          try {
            const entry = JSON.parse(line) as { sessionId?: string; msg?: string };
            return entry.sessionId === sessionId && entry.msg === msg;
          } catch {
            return false;
          }
        }),
    timeoutMs,
    100,
  );
}

async function ownerOf(sys: TestSystem, id: string): Promise<string | null> {
  return (await sys.api.get(`/api/sessions/${id}`)).body?.worker ?? null;
}

describe('deleting a session removes everything it had (issue 8, point 15)', () => {
  const sys = new TestSystem('lifecycle-delete');
  let redis: Redis;

  beforeAll(async () => {
    await sys.start(['w-del']);
    redis = new Redis(sys.env.redisUrl);
  }, 60000);
  afterAll(async () => {
    await sys.stop();
    await redis.quit();
  }, 30000);

  it('create → send → delete leaves no key of the session; re-creating it starts with a QR', async () => {
    await sys.readySession('gone', { simulator: { sendLatencyMs: 10 } });
    const sent = await sys.api.post('/api/sessions/gone/messages', {
      to: '15551230000',
      text: 'a',
    });
    expect(sent.status).toBe(202);
    await sys.waitForMessage(sent.body.id, ['delivered', 'read']);
    const held = await sys.api.post('/api/sessions/gone/messages', {
      to: '15551230000',
      text: 'b',
      sendAt: new Date(Date.now() + 3600000).toISOString(),
    });
    expect(held.status).toBe(202);
    const contact = await sys.api.get('/api/sessions/gone/contacts/15551230000');
    expect(contact.status).toBe(200);
    const before = (await keysUnder(redis, sys.env.prefix)).filter((k) => k.includes('{gone}'));
    // The queue, the device, the outbox and the session's own keys exist before.
    expect(before.some((k) => k.includes(':out.{gone}'))).toBe(true);
    expect(before.some((k) => k.includes(':sim:{gone}:device'))).toBe(true);
    expect(before.some((k) => k.includes(':sim:{gone}:outbox'))).toBe(true);

    const del = await sys.api.delete('/api/sessions/gone');
    expect(del.status).toBe(202);
    expect(del.body.cancelledMessages).toBe(1);
    expect((await sys.api.get(`/api/messages/${held.body.id}`)).body.status).toBe('cancelled');

    const left = await waitFor(
      'no key of the deleted session',
      async () => {
        const keys = (await keysUnder(redis, sys.env.prefix)).filter((k) => k.includes('gone'));
        return keys.length === 0 ? keys : null;
      },
      20000,
      200,
    ).catch(async () => (await keysUnder(redis, sys.env.prefix)).filter((k) => k.includes('gone')));
    expect(left).toEqual([]);
    // Message records keep their final status for retention.
    expect((await sys.api.get(`/api/messages/${sent.body.id}`)).body.status).toMatch(
      /delivered|read/,
    );

    // The old device is gone: the new session must be linked again (a QR), not re-linked.
    const again = await sys.api.createSession('gone', { simulator: { linkAfterMs: 60000 } });
    expect(again.status).toBe(201);
    await sys.waitForStatus('gone', 'qr');
    expect((await sys.outbox('gone')).length).toBe(0);
  }, 90000);

  it('answers logout=true with whether the device was unlinked', async () => {
    await sys.readySession('unlinked');
    const del = await sys.api.delete('/api/sessions/unlinked?logout=true');
    expect(del.status).toBe(202);
    expect(del.body.loggedOut).toBe(true);
  }, 30000);

  it('20 concurrent creates of one id: exactly one 201, the others 409', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => sys.api.createSession('twice')),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
  }, 30000);
});

describe('a slow stop never costs the worker its other sessions (point 17)', () => {
  // The stop of a session with a hung send waits SHUTDOWN_GRACE_MS (12 s) for it: four leases.
  const sys = new TestSystem('lifecycle-slow-stop', {
    extra: { SHUTDOWN_GRACE_MS: '12000', LOG_LEVEL: 'info' },
  });

  beforeAll(() => sys.start([]), 60000);
  afterAll(() => sys.stop(), 30000);

  it('deletes a session whose stop outlasts the lease; the worker keeps its other session', async () => {
    // w-a runs "slow" and "kept" and is full, so "other" waits for w-b: two sessions on w-a,
    // one on w-b is the fair spread, nothing is handed over by rebalancing.
    sys.startWorker('w-a', { WORKER_MAX_SESSIONS: '2' });
    await sys.readySession('slow', { simulator: { sendLatencyMs: 10 } });
    await sys.readySession('kept');
    expect(await ownerOf(sys, 'slow')).toBe('w-a');
    expect(await ownerOf(sys, 'kept')).toBe('w-a');
    expect((await sys.api.createSession('other')).status).toBe(201);
    // A second worker, live, that would adopt "kept" if w-a let its lease lapse.
    sys.startWorker('w-b');
    await waitFor('w-b to run "other"', async () => (await ownerOf(sys, 'other')) === 'w-b', 20000);

    await sys.api.post('/api/sessions/slow/simulator/faults', { type: 'hang' });
    const m = await sys.api.post('/api/sessions/slow/messages', { to: '15551230000', text: 'x' });
    expect(m.status).toBe(202);
    // The job is in flight, hung (in the number check or the send): the stop must wait for it.
    await waitFor(
      'the hung job in flight',
      async () => (await sys.api.get('/api/sessions/slow')).body.queue.active === 1,
      15000,
    );
    expect((await sys.api.delete('/api/sessions/slow')).status).toBe(202);

    const owners = new Set<string | null>();
    const watching = (async () => {
      for (;;) {
        owners.add(await ownerOf(sys, 'kept'));
        if (owners.has('done')) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await waitForLog(sys.workers.get('w-a')!, 'slow', 'session stopped', 30000);
    } finally {
      owners.add('done');
      await watching;
    }
    owners.delete('done');
    expect([...owners]).toEqual(['w-a']);
    expect(await ownerOf(sys, 'kept')).toBe('w-a');
  }, 90000);
});

describe('a worker frozen mid-send sends nothing after waking (point 20)', () => {
  const sys = new TestSystem('lifecycle-frozen-send', { extra: { LOG_LEVEL: 'info' } });

  beforeAll(() => sys.start(['w-1']), 60000);
  afterAll(() => sys.stop(), 30000);

  it('SIGSTOP during a 1.5 s send, adoption and send by another worker, SIGCONT: sent once', async () => {
    await sys.readySession('frozen', { simulator: { sendLatencyMs: 1500 } });
    expect(await ownerOf(sys, 'frozen')).toBe('w-1');
    sys.startWorker('w-2');
    await waitFor(
      'two live workers',
      async () => (await sys.api.get('/api/workers')).body.workers.length === 2,
      15000,
    );
    const frozenWorker = sys.workers.get('w-1')!;
    const m = await sys.api.post('/api/sessions/frozen/messages', {
      to: '15551230000',
      text: 'once',
    });
    expect(m.status).toBe(202);
    // The driver's send is pending (it takes 1.5 s) once the record says sending.
    await sys.waitForMessage(m.body.id, ['sending'], 10000);
    process.kill(frozenWorker.appPid(), 'SIGSTOP');
    try {
      await waitFor(
        'w-2 to own the session and send the message',
        async () =>
          (await ownerOf(sys, 'frozen')) === 'w-2' &&
          (await sys.outbox('frozen')).some((o) => o.messageId === m.body.id),
        30000,
        100,
      );
    } finally {
      process.kill(frozenWorker.appPid(), 'SIGCONT');
    }
    // After waking, w-1 finds its lease gone and stops the session; its send in flight ends
    // before the stop does.
    await waitForLog(frozenWorker, 'frozen', 'session stopped', 30000);
    const entries = (await sys.outbox('frozen')).filter((o) => o.messageId === m.body.id);
    expect(entries).toHaveLength(1);
    expect(
      (await sys.waitForMessage(m.body.id, ['sent', 'delivered', 'read'])).status,
    ).toBeTruthy();
  }, 90000);
});
