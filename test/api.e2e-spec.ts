import { TestSystem, TEST_API_KEY } from './support/system';
import { waitFor } from './support/wait-for';

/**
 * The contract, black-box: one gateway and one worker, real processes, real Redis, over HTTP.
 */
describe('HTTP API (gateway + worker + simulator)', () => {
  const sys = new TestSystem('api', {
    extra: { MAX_QUEUED_PER_SESSION: '50', BODY_LIMIT_BYTES: '65536' },
  });

  beforeAll(() => sys.start(), 60000);
  afterAll(() => sys.stop(), 30000);

  describe('auth and errors', () => {
    it('needs an API key under /api, and answers 401 in the error shape', async () => {
      const res = await fetch(`${sys.gateway.url}/api/sessions`);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        error: { code: 'UNAUTHORIZED', message: expect.any(String) },
      });
      const wrong = await fetch(`${sys.gateway.url}/api/sessions`, {
        headers: { 'x-api-key': 'not-the-key-000000' },
      });
      expect(wrong.status).toBe(401);
    });

    it('serves /healthz and /readyz without a key', async () => {
      expect((await fetch(`${sys.gateway.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${sys.gateway.url}/readyz`);
      expect(ready.status).toBe(200);
    });

    it('answers unknown routes, malformed JSON, non-JSON and oversized bodies in the error shape', async () => {
      const unknown = await sys.api.get('/api/nope');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('NOT_FOUND');

      const malformed = await sys.api.request('POST', '/api/sessions', '{"id": ');
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.code).toMatch(/^[A-Z_]+$/);

      const text = await sys.api.request('POST', '/api/sessions', 'id=x', {
        'content-type': 'text/plain',
      });
      expect(text.status).toBe(415);
      expect(text.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');

      const huge = await sys.api.post('/api/sessions', { id: 'x', pad: 'a'.repeat(70000) });
      expect(huge.status).toBe(413);
      expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    });
  });

  describe('sessions', () => {
    it('creates a session, refuses a duplicate and bad input, and reports it ready', async () => {
      const created = await sys.api.createSession('s-basic');
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        id: 's-basic',
        driver: 'simulator',
        status: expect.any(String),
      });

      expect((await sys.api.createSession('s-basic')).status).toBe(409);
      expect((await sys.api.post('/api/sessions', { id: 'Bad Id' })).status).toBe(400);
      expect((await sys.api.post('/api/sessions', { id: 'ok1', driver: 'baileys' })).status).toBe(
        400,
      );
      expect((await sys.api.post('/api/sessions', { id: 'ok2', surprise: true })).status).toBe(400);
      const badRate = await sys.api.post('/api/sessions', {
        id: 'ok3',
        rateLimit: { perMinute: -1, minDelayMs: 0, maxDelayMs: 0 },
      });
      expect(badRate.status).toBe(400);
      expect(badRate.body.error.message).toMatch(/perMinute/);

      const ready = await sys.waitForStatus('s-basic', 'ready');
      expect(ready).toMatchObject({
        phone: '15550000000',
        worker: 'worker-a',
        health: { healthy: true, recoveries: 0 },
        lastError: null,
        queue: { waiting: 0, active: 0, paused: false },
      });
      const list = await sys.api.get('/api/sessions');
      expect(list.body.sessions.map((s: { id: string }) => s.id)).toContain('s-basic');
      expect((await sys.api.get('/api/sessions/unknown-one')).status).toBe(404);
    });

    it('serves the QR while linking (PNG and JSON) and 409 otherwise', async () => {
      await sys.api.createSession('s-qr', { simulator: { linkAfterMs: 4000 } });
      await sys.waitForStatus('s-qr', 'qr');
      const png = await fetch(`${sys.gateway.url}/api/sessions/s-qr/qr`, {
        headers: { 'x-api-key': TEST_API_KEY },
      });
      expect(png.status).toBe(200);
      expect(png.headers.get('content-type')).toBe('image/png');
      const bytes = Buffer.from(await png.arrayBuffer());
      expect(bytes.subarray(1, 4).toString()).toBe('PNG');
      const json = await sys.api.get('/api/sessions/s-qr/qr', { accept: 'application/json' });
      expect(json.body.qr).toMatch(/^2@/);
      const code = await sys.api.post('/api/sessions/s-qr/pairing-code', {
        phone: '+1 555 000 1111',
      });
      expect(code.status).toBe(201);
      expect(code.body.code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);

      await sys.waitForStatus('s-qr', 'ready');
      const after = await sys.api.get('/api/sessions/s-qr/qr');
      expect(after.status).toBe(409);
      expect(after.body.error.code).toBe('SESSION_NOT_IN_QR');
    });

    it('checks numbers, caches the answer, and fails messages to numbers not on WhatsApp', async () => {
      await sys.readySession('s-contacts', { simulator: { notOnWhatsApp: ['15559990000'] } });
      const on = await sys.api.get('/api/sessions/s-contacts/contacts/15551230000');
      expect(on.body).toEqual({
        phone: '15551230000',
        chatId: '15551230000@c.us',
        onWhatsApp: true,
      });
      const off = await sys.api.get('/api/sessions/s-contacts/contacts/+15559990000');
      expect(off.body.onWhatsApp).toBe(false);

      const sent = await sys.api.post('/api/sessions/s-contacts/messages', {
        to: '15559990000',
        text: 'hi',
      });
      const failed = await sys.waitForMessage(sent.body.id, ['failed']);
      expect(failed.error.code).toBe('NOT_ON_WHATSAPP');
      expect(failed.attempts).toBe(0);
    });

    it('recovers on request and after an injected crash, holding messages meanwhile', async () => {
      await sys.readySession('s-recover');
      expect((await sys.api.post('/api/sessions/s-recover/recover')).status).toBe(202);
      await sys.waitForStatus('s-recover', 'ready');

      const fault = await sys.api.post('/api/sessions/s-recover/simulator/faults', {
        type: 'browser-crash',
        durationMs: 1500,
      });
      expect(fault.status).toBe(202);
      const lost = await sys.api.get('/api/sessions/s-recover');
      expect(['recovering', 'starting']).toContain(lost.body.status);
      expect(lost.body.queue.paused).toBe(true);
      const msg = await sys.api.post('/api/sessions/s-recover/messages', {
        to: '15551112222',
        text: 'during the crash',
      });
      expect(msg.status).toBe(202);

      const back = await sys.waitForStatus('s-recover', 'ready');
      expect(back.health.recoveries).toBeGreaterThanOrEqual(2);
      expect(back.lastError.code).toBe('BROWSER_CRASHED');
      const m = await sys.waitForMessage(msg.body.id, ['sent', 'delivered', 'read']);
      expect(m.attempts).toBe(1);

      expect(
        (await sys.api.post('/api/sessions/s-recover/simulator/faults', { type: 'explode' }))
          .status,
      ).toBe(400);
    });

    it('deletes a session: its unsent messages are cancelled and it is gone', async () => {
      await sys.api.createSession('s-delete', { simulator: { linkAfterMs: 60000 } });
      const m = await sys.api.post('/api/sessions/s-delete/messages', {
        to: '15551112222',
        text: 'never',
      });
      const del = await sys.api.delete('/api/sessions/s-delete?logout=true');
      expect(del.status).toBe(202);
      expect((await sys.api.get('/api/sessions/s-delete')).status).toBe(404);
      expect((await sys.api.get(`/api/messages/${m.body.id}`)).body.status).toBe('cancelled');
      expect(
        (await sys.api.post('/api/sessions/s-delete/messages', { to: '15551112222', text: 'x' }))
          .status,
      ).toBe(404);
    });
  });

  describe('messages', () => {
    beforeAll(() => sys.readySession('m-main'), 30000);

    it('accepts a message (202), sends it once, and reports delivery and read', async () => {
      const res = await sys.api.post('/api/sessions/m-main/messages', {
        to: '+1 555 123 4567',
        text: 'hello',
      });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ id: expect.stringMatching(/^msg_/), status: 'queued' });
      const read = await sys.waitForMessage(res.body.id, ['read']);
      expect(read).toMatchObject({
        session: 'm-main',
        to: '+1 555 123 4567',
        attempts: 1,
        error: null,
        waMessageId: expect.any(String),
        sentAt: expect.any(String),
      });
      expect(read.history.map((h: { status: string }) => h.status)).toEqual([
        'queued',
        'sending',
        'sent',
        'delivered',
        'read',
      ]);
      const outbox = await sys.outbox('m-main');
      const mine = outbox.filter((o) => o.messageId === res.body.id);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({
        to: '15551234567@c.us',
        text: 'hello',
        waMessageId: read.waMessageId,
      });
    });

    it('rejects bad messages with 400 and names the field', async () => {
      const cases: [unknown, RegExp][] = [
        [{ text: 'no recipient' }, /to/],
        [{ to: '15551234567' }, /text or media/],
        [{ to: 'not a number', text: 'x' }, /to must be/],
        [{ to: '15551234567', text: 'x'.repeat(4097) }, /text/],
        [{ to: '15551234567', text: 'x', priority: 'urgent' }, /priority/],
        [{ to: '15551234567', text: 'x', sendAt: 'tomorrow' }, /sendAt/],
        [{ to: '15551234567', text: 'x', expiresAt: '2000-01-01T00:00:00Z' }, /expiresAt/],
        [{ to: '15551234567', media: { base64: 'aGVsbG8=' } }, /mimetype/],
        [{ to: '15551234567', text: 'x', color: 'red' }, /color/],
      ];
      for (const [body, pattern] of cases) {
        const res = await sys.api.post('/api/sessions/m-main/messages', body);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expect(res.body.error.message).toMatch(pattern);
      }
      expect(
        (await sys.api.post('/api/sessions/nobody/messages', { to: '15551234567', text: 'x' }))
          .status,
      ).toBe(404);
      expect((await sys.api.get('/api/messages/msg_unknown')).status).toBe(404);
    });

    it('passes group ids through and normalises numbers to chat ids', async () => {
      const group = await sys.api.post('/api/sessions/m-main/messages', {
        to: '120363040000000000@g.us',
        text: 'to the group',
      });
      expect(group.status).toBe(202);
      await sys.waitForMessage(group.body.id, ['sent', 'delivered', 'read']);
      const outbox = await sys.outbox('m-main');
      expect(outbox.find((o) => o.messageId === group.body.id)?.to).toBe('120363040000000000@g.us');
    });

    it('keeps the order of acceptance', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 15; i++) {
        ids.push(
          (
            await sys.api.post('/api/sessions/m-main/messages', {
              to: '15550001111',
              text: `order ${i}`,
            })
          ).body.id,
        );
      }
      await sys.waitForMessage(ids[ids.length - 1], ['sent', 'delivered', 'read']);
      const outbox = (await sys.outbox('m-main'))
        .map((o) => o.messageId)
        .filter((id) => ids.includes(id));
      expect(outbox).toEqual(ids);
    });

    it('replays an Idempotency-Key with the same body and refuses another body', async () => {
      const key = `idem-${Date.now()}`;
      const body = { to: '15557654321', text: 'once only' };
      const first = await sys.api.post('/api/sessions/m-main/messages', body, {
        'idempotency-key': key,
      });
      expect(first.status).toBe(202);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const again = await sys.api.post('/api/sessions/m-main/messages', body, {
        'idempotency-key': key,
      });
      expect(again.status).toBe(202);
      expect(again.body.id).toBe(first.body.id);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      const other = await sys.api.post(
        '/api/sessions/m-main/messages',
        { ...body, text: 'other' },
        { 'idempotency-key': key },
      );
      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');

      await sys.waitForMessage(first.body.id, ['sent', 'delivered', 'read']);
      const outbox = await sys.outbox('m-main');
      expect(outbox.filter((o) => o.text === 'once only')).toHaveLength(1);
    });

    it('never gives two ids for one Idempotency-Key under concurrent requests', async () => {
      const key = `race-${Date.now()}`;
      const body = { to: '15557650000', text: 'concurrent' };
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          sys.api.post('/api/sessions/m-main/messages', body, { 'idempotency-key': key }),
        ),
      );
      const accepted = answers.filter((a) => a.status === 202);
      expect(accepted.length).toBeGreaterThanOrEqual(1);
      expect(new Set(accepted.map((a) => a.body.id)).size).toBe(1);
      for (const a of answers) expect([202, 409]).toContain(a.status);
    });

    it('sends a bulk all together, and refuses a bulk with one bad message entirely', async () => {
      const ok = await sys.api.post('/api/sessions/m-main/messages/bulk', {
        messages: Array.from({ length: 5 }, (_, i) => ({ to: '15553334444', text: `bulk ${i}` })),
      });
      expect(ok.status).toBe(202);
      expect(ok.body.ids).toHaveLength(5);
      for (const id of ok.body.ids) await sys.waitForMessage(id, ['sent', 'delivered', 'read']);

      const bad = await sys.api.post('/api/sessions/m-main/messages/bulk', {
        messages: [
          { to: '15553334444', text: 'fine' },
          { to: 'nope', text: 'bad' },
        ],
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/messages\[1\]/);
      const outbox = await sys.outbox('m-main');
      expect(outbox.some((o) => o.text === 'fine')).toBe(false);
      expect(
        (await sys.api.post('/api/sessions/m-main/messages/bulk', { messages: [] })).status,
      ).toBe(400);
    });

    it('holds a scheduled message until sendAt', async () => {
      const sendAt = new Date(Date.now() + 1500).toISOString();
      const res = await sys.api.post('/api/sessions/m-main/messages', {
        to: '15552223333',
        text: 'later',
        sendAt,
      });
      const queued = await sys.api.get(`/api/messages/${res.body.id}`);
      expect(queued.body).toMatchObject({ status: 'queued', sendAt });
      const sent = await sys.waitForMessage(res.body.id, ['sent', 'delivered', 'read']);
      expect(Date.parse(sent.sentAt)).toBeGreaterThanOrEqual(Date.parse(sendAt));
    });

    it('cancels a queued message (200) and refuses to cancel a sent one (409)', async () => {
      const sent = await sys.api.post('/api/sessions/m-main/messages', {
        to: '15552223333',
        text: 'gone already',
      });
      await sys.waitForMessage(sent.body.id, ['sent', 'delivered', 'read']);
      const late = await sys.api.delete(`/api/messages/${sent.body.id}`);
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('MESSAGE_NOT_CANCELLABLE');

      const future = await sys.api.post('/api/sessions/m-main/messages', {
        to: '15552223333',
        text: 'cancel me',
        sendAt: new Date(Date.now() + 60000).toISOString(),
      });
      const cancel = await sys.api.delete(`/api/messages/${future.body.id}`);
      expect(cancel.status).toBe(200);
      expect(cancel.body.status).toBe('cancelled');
      expect((await sys.api.get(`/api/messages/${future.body.id}`)).body.status).toBe('cancelled');
      expect((await sys.api.delete('/api/messages/msg_nothing')).status).toBe(404);
    });
  });

  describe('a session that is not ready', () => {
    it('holds messages paused (no attempt used), then sends them by priority and order', async () => {
      await sys.api.createSession('p-hold', { simulator: { linkAfterMs: 2500 } });
      await sys.waitForStatus('p-hold', 'qr');
      const low = await sys.api.post('/api/sessions/p-hold/messages', {
        to: '15551110000',
        text: 'low',
        priority: 'low',
      });
      const normal = await sys.api.post('/api/sessions/p-hold/messages', {
        to: '15551110000',
        text: 'normal',
      });
      const high = await sys.api.post('/api/sessions/p-hold/messages', {
        to: '15551110000',
        text: 'high',
        priority: 'high',
      });
      const held = await sys.api.get('/api/sessions/p-hold');
      expect(held.body.queue).toMatchObject({ paused: true, waiting: 3 });
      expect((await sys.api.get(`/api/messages/${low.body.id}`)).body).toMatchObject({
        status: 'queued',
        attempts: 0,
      });

      await sys.waitForStatus('p-hold', 'ready');
      await sys.waitForMessage(low.body.id, ['sent', 'delivered', 'read']);
      const order = (await sys.outbox('p-hold')).map((o) => o.messageId);
      expect(order).toEqual([high.body.id, normal.body.id, low.body.id]);
    });

    it('expires a message whose expiresAt passes while it waits, and never sends it', async () => {
      await sys.api.createSession('p-expire', { simulator: { linkAfterMs: 4000 } });
      const res = await sys.api.post('/api/sessions/p-expire/messages', {
        to: '15551110000',
        text: 'too late',
        expiresAt: new Date(Date.now() + 800).toISOString(),
      });
      const expired = await sys.waitForMessage(res.body.id, ['expired'], 5000);
      expect(expired.error.code).toBe('EXPIRED');
      await sys.waitForStatus('p-expire', 'ready');
      const keep = await sys.api.post('/api/sessions/p-expire/messages', {
        to: '15551110000',
        text: 'in time',
      });
      await sys.waitForMessage(keep.body.id, ['sent', 'delivered', 'read']);
      expect((await sys.outbox('p-expire')).map((o) => o.text)).toEqual(['in time']);
    });

    it('answers 429 QUEUE_FULL past MAX_QUEUED_PER_SESSION and clears the queue on request', async () => {
      await sys.api.createSession('p-full', { simulator: { linkAfterMs: 600000 } });
      const bulk = await sys.api.post('/api/sessions/p-full/messages/bulk', {
        messages: Array.from({ length: 50 }, (_, i) => ({ to: '15551110000', text: `fill ${i}` })),
      });
      expect(bulk.status).toBe(202);
      const full = await waitFor('QUEUE_FULL', async () => {
        const r = await sys.api.post('/api/sessions/p-full/messages', {
          to: '15551110000',
          text: 'one more',
        });
        return r.status === 429 ? r : null;
      });
      expect(full.body.error.code).toBe('QUEUE_FULL');
      expect(full.headers.get('retry-after')).toBeTruthy();

      const cleared = await sys.api.post('/api/clear-queue', { session: 'p-full' });
      expect(cleared.status).toBe(201);
      expect(cleared.body.cleared).toBeGreaterThanOrEqual(50);
      expect((await sys.api.get(`/api/messages/${bulk.body.ids[0]}`)).body.status).toBe(
        'cancelled',
      );
      expect((await sys.api.post('/api/clear-queue', { session: 'no-such' })).status).toBe(404);
    });
  });

  describe('operations endpoints', () => {
    it('reports health and queue status per session, and recovers through /api/recover-session', async () => {
      await sys.readySession('o-ops');
      const health = await sys.api.get('/api/health');
      expect(health.status).toBe(200);
      expect(['ok', 'degraded']).toContain(health.body.status);
      expect(health.body.redis).toBe(true);
      const mine = health.body.sessions.find((s: { id: string }) => s.id === 'o-ops');
      expect(mine).toMatchObject({
        status: 'ready',
        session_health: true,
        last_health_check: expect.any(String),
        message_queue_length: 0,
        processing_queue: false,
        restart_in_progress: false,
      });
      const qs = await sys.api.get('/api/queue-status');
      expect(qs.body.sessions['o-ops']).toEqual({
        waiting: 0,
        active: 0,
        delayed: 0,
        failed: 0,
        completed: expect.any(Number),
        paused: false,
      });
      const rec = await sys.api.post('/api/recover-session', { session: 'o-ops' });
      expect(rec.status).toBe(202);
      await sys.waitForStatus('o-ops', 'ready');
      expect((await sys.api.post('/api/recover-session', { session: 'Bad!' })).status).toBe(400);
    });
  });
});
