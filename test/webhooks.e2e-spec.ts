import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisKeys, type GatewayEvent } from '@app/core';
import { WebhookDeadLetterStore } from '@app/queue';
import { readEvents } from './support/event-stream';
import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';
import {
  verifyStandardWebhook,
  WebhookReceiver,
  type ReceivedWebhook,
} from './support/webhook-receiver';

const secret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** Short steps, enough of them to outlast the outages below (about 30 s of retries). */
const SCHEDULE = ['300', '600', ...Array<string>(28).fill('1000')].join(',');

const idOf = (req: ReceivedWebhook): string => (JSON.parse(req.body) as GatewayEvent).id;
const is2xx = (req: ReceivedWebhook) =>
  req.answered !== null && req.answered >= 200 && req.answered < 300;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function sendMessages(sys: TestSystem, session: string, n: number, tag: string) {
  const messages = Array.from({ length: n }, (_, i) => ({
    to: '15551234567',
    text: `${tag} ${i}`,
  }));
  const res = await sys.api.post(`/api/sessions/${session}/messages/bulk`, { messages });
  expect(res.status).toBe(202);
  return res.body.ids as string[];
}

/**
 * Durable webhooks against real processes: a receiver on loopback that answers 503 for a
 * while, is stopped (connection refused), comes back holding requests open while the only
 * worker is SIGKILLed mid-delivery, then a second worker takes over. Every event of the session
 * in the stream must reach the receiver with a 2xx (none lost); an event may arrive twice only
 * if it was a delivery cut by the kill, and always with the same webhook-id.
 */
describe('webhooks: durable delivery through an outage and a killed worker', () => {
  const receiver = new WebhookReceiver();
  const sessionSecret = secret();
  let sys: TestSystem;
  let redis: Redis;
  let keys: RedisKeys;

  /** Events of the session in the durable stream. */
  const streamEvents = async (session: string) =>
    (await readEvents(redis, keys)).filter((e) => e.session === session);

  /** Waits until every event of the session so far was answered 2xx by the receiver. */
  async function allDelivered(session: string, timeoutMs: number): Promise<GatewayEvent[]> {
    return waitFor(
      'every event of the stream delivered with a 2xx',
      async () => {
        const events = await streamEvents(session);
        const ok = new Set(receiver.received.filter(is2xx).map(idOf));
        return events.every((e) => ok.has(e.id)) ? events : null;
      },
      timeoutMs,
      200,
    );
  }

  beforeAll(async () => {
    await receiver.start();
    sys = new TestSystem('webhooks', {
      extra: {
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_RETRY_SCHEDULE_MS: SCHEDULE,
        WEBHOOK_LOCK_MS: '2000',
      },
    });
    await sys.start(['w-1']);
    redis = new Redis(sys.env.redisUrl);
    keys = new RedisKeys(sys.env.prefix);
  }, 60000);

  afterAll(async () => {
    await sys?.stop();
    await redis?.quit();
    await receiver.stop();
  }, 30000);

  it('delivers every event signed, and measures the delay from event to webhook', async () => {
    await sys.readySession('hooked', {
      webhook: { url: receiver.url(), secret: sessionSecret },
      simulator: { deliveredAfterMs: 50, readAfterMs: 100 },
    });
    const ids = await sendMessages(sys, 'hooked', 200, 'latency');
    // Every message read (an early `read` ack may skip `delivered`: read events are the count).
    await waitFor(
      'the 200 messages read',
      async () => {
        const read = new Set(
          (await streamEvents('hooked'))
            .filter((e) => e.type === 'message.status')
            .map((e) => e.data as { messageId: string; status: string })
            .filter((d) => d.status === 'read')
            .map((d) => d.messageId),
        );
        return ids.every((id) => read.has(id));
      },
      60000,
      200,
    );
    const events = await allDelivered('hooked', 60000);

    const arrival = new Map<string, number>();
    for (const req of receiver.received.filter(is2xx)) {
      if (!arrival.has(idOf(req))) arrival.set(idOf(req), req.at);
    }
    const statusEvents = events.filter((e) => e.type === 'message.status');
    const delaysOf = (list: GatewayEvent[]) =>
      list.map((e) => arrival.get(e.id)! - Date.parse(e.timestamp)).sort((x, y) => x - y);
    const all = delaysOf(statusEvents);
    // `queued` events of a bulk request are stamped when the request starts and appended when
    // all its messages are stored: their delay includes the bulk insert.
    const worker = delaysOf(
      statusEvents.filter((e) => (e.data as { status: string }).status !== 'queued'),
    );
    // Printed, not asserted: a figure for the README, not a pass mark on a shared CPU.
    process.stdout.write(
      `webhook delay from event timestamp to receiver: ${all.length} message.status events ` +
        `p50 ${percentile(all, 50)} ms, p99 ${percentile(all, 99)} ms; ` +
        `without queued (${worker.length}): p50 ${percentile(worker, 50)} ms, ` +
        `p99 ${percentile(worker, 99)} ms\n`,
    );
    for (const req of receiver.received) {
      expect(req.headers['webhook-id']).toBe(idOf(req));
      expect(verifyStandardWebhook(sessionSecret, req)).toBe(true);
    }
  }, 120000);

  it('loses nothing through 503s, a stopped receiver and a worker SIGKILLed mid-delivery', async () => {
    // 503 for a while.
    receiver.answer = () => ({ status: 503 });
    const before503 = receiver.received.length;
    await sendMessages(sys, 'hooked', 10, 'during 503');
    await waitFor('503s answered', () => receiver.received.length - before503 >= 10, 20000);

    // Stopped: connection refused. Events keep coming; their deliveries fail and wait.
    await receiver.stop();
    const refusedIds = await sendMessages(sys, 'hooked', 10, 'while stopped');
    await sys.waitForMessage(refusedIds[9], ['read'], 20000);

    // Back, but holding every request open: the worker is killed with deliveries in flight.
    receiver.answer = () => 'hold';
    const heldFrom = receiver.received.length;
    await receiver.start();
    await waitFor('deliveries held open', () => receiver.heldCount >= 3, 20000);
    await sys.workers.get('w-1')!.kill();
    // Everything held until now came from w-1 (the only worker) and lost its answer with it.
    const cut = new Set(receiver.received.slice(heldFrom).map(idOf));
    receiver.answer = () => ({ status: 200 });
    sys.startWorker('w-2');
    await sys.waitForStatus('hooked', 'ready', 30000);
    await sendMessages(sys, 'hooked', 10, 'after takeover');

    const events = await allDelivered('hooked', 90000);
    const accepted = new Map<string, number>();
    for (const req of receiver.received) {
      // What the receiver took in: answered 2xx, or held until the sender died (the receiver
      // may have acted on it; the sender never heard back).
      if (is2xx(req) || req.answered === null) {
        accepted.set(idOf(req), (accepted.get(idOf(req)) ?? 0) + 1);
      }
    }
    const lost = events.filter((e) => !receiver.received.some((r) => is2xx(r) && idOf(r) === e.id));
    const repeated = [...accepted].filter(([, n]) => n > 1).map(([id]) => id);
    process.stdout.write(
      `webhooks outage test: ${events.length} events in the stream, ${receiver.received.length} requests, ` +
        `lost ${lost.length}, repeated ${repeated.length} (deliveries cut by the kill: ${cut.size})\n`,
    );
    expect(lost).toEqual([]);
    expect(repeated.every((id) => cut.has(id))).toBe(true);
    expect(repeated.length).toBeLessThanOrEqual(cut.size);
    // Every request of an event, first or repeated, carried the event's id and a valid signature.
    for (const req of receiver.received) {
      expect(req.headers['webhook-id']).toBe(idOf(req));
      expect(verifyStandardWebhook(sessionSecret, req)).toBe(true);
    }
  }, 180000);
});

describe('webhooks: an endpoint that always fails ends as a dead letter', () => {
  const receiver = new WebhookReceiver();
  let sys: TestSystem;
  let redis: Redis;

  beforeAll(async () => {
    await receiver.start();
    receiver.answer = () => ({ status: 500 });
    sys = new TestSystem('webhooks-dead', {
      extra: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE_MS: '100,200,300' },
    });
    await sys.start(['w-1']);
    redis = new Redis(sys.env.redisUrl);
  }, 60000);

  afterAll(async () => {
    await sys?.stop();
    await redis?.quit();
    await receiver.stop();
  }, 30000);

  it('lists every attempt of the event in its dead letter', async () => {
    await sys.readySession('failing', {
      webhook: { url: receiver.url(), secret: secret() },
      simulator: { deliveredAfterMs: -1, readAfterMs: -1 },
    });
    const [id] = await sendMessages(sys, 'failing', 1, 'doomed');
    const keys = new RedisKeys(sys.env.prefix);
    const letters = new WebhookDeadLetterStore(redis, keys, 3600);
    const queued = await waitFor('the queued event', async () =>
      (await readEvents(redis, keys)).find(
        (e) =>
          e.type === 'message.status' &&
          (e.data as { messageId: string; status: string }).messageId === id &&
          (e.data as { status: string }).status === 'queued',
      ),
    );
    const letter = await waitFor(
      'its dead letter',
      async () =>
        (await letters.list({ session: 'failing', limit: 100 })).find(
          (l) => l.event.id === queued.id,
        ),
      30000,
      100,
    );
    expect(letter.reason.code).toBe('RETRIES_EXHAUSTED');
    expect(letter.endpoint).toEqual({ kind: 'session', url: receiver.url() });
    expect(letter.attempts).toHaveLength(4);
    expect(letter.attempts.every((a) => a.status === 500 && a.error === 'answered 500')).toBe(true);
    expect(receiver.received.filter((r) => idOf(r) === queued.id)).toHaveLength(4);
  });
});
