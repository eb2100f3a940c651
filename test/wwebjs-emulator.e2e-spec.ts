import { rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { RedisKeys, type GatewayEvent, type SessionStatusEventData } from '@app/core';
import { startEmulator, type RunningEmulator } from '../apps/wa-emulator/src';
import { workerProfileFolder } from '../apps/sender-worker/src/config/profile-folder';
import {
  isAlive,
  pidsUsingProfile,
  processTreeMemoryMb,
} from '../libs/session/src/drivers/wwebjs/browser/process-tree';
import { browserPidOnProfile } from './support/browser-process';
import { readEvents } from './support/event-stream';
import { SseClient } from './support/sse-client';
import { TestSystem, TEST_API_KEY } from './support/system';
import { waitFor } from './support/wait-for';

/**
 * Issue 14: the product on the WhatsApp Web emulator. A gateway and two workers (the built
 * apps, started with their npm scripts) drive a `wwebjs` session: the unmodified whatsapp-web.js
 * in the real Chromium, pointed at the emulator by configuration only (CHROMIUM_EXTRA_ARGS).
 * The session links by the QR the API shows, then sends 200 messages while its Chromium is
 * SIGKILLed, its page stops answering and its worker is SIGKILLed; every message must leave
 * exactly once, in order, without a new QR, and reach `delivered`/`read` through the acks.
 *
 * It also prints figures (never asserted: tests do not assert on time): the memory of the linked
 * session's browser tree, and detection and recovery times of each fault with the real library,
 * beside the simulator's for the same browser crash. README quotes them.
 */

const SESSION = 'emu';
const PHONE = '15557770001';
const RECIPIENTS = ['15550001001', '15550001002', '15550001003', '15550001004'];
const WAVE = 50;
/** A real browser relaunch, restore from Redis and link take seconds; more on a busy machine. */
const PATIENCE_MS = 120000;

interface Accepted {
  id: string;
  to: string;
  text: string;
}

interface Fault {
  /** Fault to the first status other than `ready` (the queue is paused with it). */
  detectionMs: number;
  /** Fault to `ready` again. */
  recoveryMs: number;
  /** The statuses the session went through. */
  path: string[];
  worker: string | null;
}

describe('wwebjs on the WhatsApp Web emulator: gateway + two workers', () => {
  const dataDir = `/tmp/wa-e2e-emulator-${process.pid}`;
  // Both workers run on this host: they share its profile folder (as two workers of one host do).
  const profileDir = join(
    workerProfileFolder(resolve(dataDir), hostname()),
    `RemoteAuth-${SESSION}`,
  );
  let emulator: RunningEmulator;
  let sys: TestSystem;
  let redis: Redis;
  let keys: RedisKeys;
  let received: SseClient;
  let deviceId: string;
  let readyAt: number;
  const accepted: Accepted[] = [];
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    emulator = await startEmulator({
      logger: pino({ level: 'warn' }),
      settings: { deliveredAfterMs: 300, readAfterMs: 600 },
    });
    sys = new TestSystem('wwebjs-emu', {
      extra: {
        DEFAULT_DRIVER: 'wwebjs',
        // The profile moves with the session: a worker that adopts it restores it from Redis.
        SESSION_STORE: 'redis',
        SESSION_DATA_DIR: dataDir,
        // The only thing that points the worker's Chromium at the emulator.
        CHROMIUM_EXTRA_ARGS: emulator.chromiumArgs.join(' '),
        WWEBJS_START_TIMEOUT_MS: '60000',
        // A frozen page is found by the probe (two failures in a row): probe often.
        HEALTH_CHECK_INTERVAL_MS: '1000',
        HEALTH_CHECK_TIMEOUT_MS: '3000',
        RECOVERY_STEP_TIMEOUT_MS: '30000',
        // The checks below read 200 message records at a time, many times over.
        RATE_LIMIT_PER_MINUTE: '1000000',
      },
    });
    await sys.start(['worker-a', 'worker-b']);
    redis = new Redis(sys.env.redisUrl);
    keys = new RedisKeys(sys.env.prefix);
  }, PATIENCE_MS);

  afterAll(async () => {
    received?.close();
    await sys?.stop();
    redis?.disconnect();
    await emulator?.close();
    // The workers were SIGKILLed: their Chromium, over a pipe, exits by itself a moment later
    // and writes its profile as it goes. Removing the folder before that fails with ENOTEMPTY.
    try {
      await waitFor(
        'no browser on the profile',
        () => pidsUsingProfile(profileDir).length === 0,
        20000,
        50,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
    // The figures of this run (README, "on the emulator"): printed, never asserted.
    process.stdout.write(`\nwwebjs-emulator figures ${JSON.stringify(figures)}\n`);
  }, PATIENCE_MS);

  /** The session's status changes from the durable event log, oldest first. */
  async function statusEvents(session = SESSION): Promise<GatewayEvent<SessionStatusEventData>[]> {
    return (await readEvents(redis, keys)).filter(
      (e): e is GatewayEvent<SessionStatusEventData> =>
        e.type === 'session.status' && e.session === session,
    );
  }

  /**
   * Waits for the loss a fault at `t0` causes and the recovery after it, read from the session's
   * status events (stamped by the worker that made them, on this machine's clock).
   */
  async function lossAndRecovery(t0: number, session = SESSION): Promise<Fault> {
    const after = await waitFor(
      `${session} to be lost and ready again`,
      async () => {
        const since = (await statusEvents(session)).filter((e) => Date.parse(e.timestamp) >= t0);
        const lost = since.findIndex((e) => e.data.status !== 'ready');
        if (lost < 0) return null;
        const back = since.slice(lost).find((e) => e.data.status === 'ready');
        return back ? since.slice(0, since.indexOf(back) + 1) : null;
      },
      PATIENCE_MS,
      100,
    );
    const lost = after.find((e) => e.data.status !== 'ready')!;
    const back = after[after.length - 1];
    return {
      detectionMs: Date.parse(lost.timestamp) - t0,
      recoveryMs: Date.parse(back.timestamp) - t0,
      path: after.map((e) => e.data.status),
      worker: back.data.worker,
    };
  }

  /** POSTs `count` more messages, one at a time (their acceptance order is the send order). */
  async function post(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const n = accepted.length;
      const to = RECIPIENTS[n % RECIPIENTS.length];
      const text = `emulated message ${n}`;
      const res = await sys.api.post(
        `/api/sessions/${SESSION}/messages`,
        { to, text },
        { 'idempotency-key': `emu-${n}` },
      );
      expect(res.status).toBe(202);
      accepted.push({ id: res.body.id, to, text });
    }
  }

  const sentLog = () => emulator.control.sent({ phone: PHONE });
  const untilSent = (count: number) =>
    waitFor(
      `${count} messages in the emulator's sent log`,
      async () => {
        return (await sentLog()).length >= count;
      },
      PATIENCE_MS,
      50,
    );

  it(
    'links by the QR the API shows, scanned on the emulated phone',
    async () => {
      const created = await sys.api.post('/api/sessions', {
        id: SESSION,
        driver: 'wwebjs',
        rateLimit: { perMinute: 0, minDelayMs: 0, maxDelayMs: 0 },
      });
      expect(created.status).toBe(201);
      await sys.waitForStatus(SESSION, 'qr', PATIENCE_MS);
      const qr = await sys.api.get(`/api/sessions/${SESSION}/qr`, { accept: 'application/json' });
      expect(qr.status).toBe(200);
      ({ deviceId } = await emulator.control.scan(qr.body.qr, PHONE));
      const ready = await sys.waitForStatus(SESSION, 'ready', PATIENCE_MS);
      readyAt = Date.now();
      expect(ready.phone).toBe(PHONE);
      expect(ready.worker).toMatch(/^worker-[ab]$/);
    },
    PATIENCE_MS,
  );

  it(
    'sends 200 messages exactly once through a Chromium SIGKILL, a frozen page and a worker SIGKILL, with no new QR',
    async () => {
      // whatsapp-web.js's RemoteAuth backs the profile up only 60 s after the first `ready`
      // ("for session to be stable enough to recover", RemoteAuth.js afterAuthReady; kept by
      // auth/guarded-remote-auth.ts), and every relaunch before that backup restarts the wait.
      // A worker killed before it has nothing in Redis to move: the next one would need a QR.
      await waitFor(
        'the first auth backup in Redis',
        async () => (await redis.exists(keys.wwebjsAuth(SESSION))) === 1,
        PATIENCE_MS,
        250,
      );
      figures.firstBackupAfterReadyMs = Date.now() - readyAt;
      const idlePid = browserPidOnProfile(profileDir);
      expect(idlePid).not.toBeNull();
      figures.linkedBrowserPssMb = processTreeMemoryMb(idlePid!);

      // 1. Chromium SIGKILLed while the first wave flows.
      await post(WAVE);
      await untilSent(5);
      const browserPid = browserPidOnProfile(profileDir)!;
      const killedAt = Date.now();
      process.kill(browserPid, 'SIGKILL');
      figures.chromiumSigkill = await lossAndRecovery(killedAt);

      // 2. The page stops answering (a busy loop in the renderer) while the second wave flows.
      await post(WAVE);
      await untilSent(WAVE + 5);
      const frozenAt = Date.now();
      await emulator.control.freeze(deviceId);
      figures.frozenPage = await lossAndRecovery(frozenAt);

      // 3. The owning worker SIGKILLed while the third wave flows: the other one adopts the
      //    session once the lease expires, restoring the profile from Redis.
      await post(WAVE);
      await untilSent(2 * WAVE + 5);
      const owner = (await sys.api.get(`/api/sessions/${SESSION}`)).body.worker as string;
      const ownersBrowser = browserPidOnProfile(profileDir)!;
      const workerKilledAt = Date.now();
      await sys.workers.get(owner)!.kill();
      const moved = await lossAndRecovery(workerKilledAt);
      figures.workerSigkill = moved;
      expect(moved.worker).not.toBe(owner);
      // Over a pipe, the browser dies with its worker.
      await waitFor('the dead worker’s browser gone', () => !isAlive(ownersBrowser), 10000, 50);

      // 4. The last wave on the new owner.
      await post(WAVE);
      expect(accepted).toHaveLength(4 * WAVE);
      await waitFor(
        'every accepted message sent',
        async () => {
          for (const m of accepted) {
            const r = await sys.api.get(`/api/messages/${m.id}`);
            if (!['sent', 'delivered', 'read'].includes(r.body.status)) return false;
          }
          return true;
        },
        PATIENCE_MS,
        500,
      );

      // Exactly once: each accepted text is in WhatsApp's sent log once, with the id the gateway
      // recorded for it, and nothing else is.
      const log = await sentLog();
      expect(log).toHaveLength(accepted.length);
      for (const m of accepted) {
        const copies = log.filter((s) => s.body === m.text);
        expect({ text: m.text, copies: copies.length }).toEqual({ text: m.text, copies: 1 });
        const record = (await sys.api.get(`/api/messages/${m.id}`)).body;
        expect(record.waMessageId).toBe(copies[0].waMessageId);
        expect(copies[0].to).toBe(`${m.to}@c.us`);
      }
      // No new QR: the emulator knows one device for the account, the one scanned at the start,
      // and the session never asked for a QR again after it was first ready.
      const devices = (await emulator.control.devices()).filter((d) => d.phone === PHONE);
      expect(devices.map((d) => d.deviceId)).toEqual([deviceId]);
      const statuses = (await statusEvents()).map((e) => e.data.status);
      expect(statuses.slice(statuses.indexOf('ready'))).not.toContain('qr');
    },
    12 * PATIENCE_MS,
  );

  it('sends them in the order they were accepted, for each recipient', async () => {
    const log = await sentLog();
    expect(log).toHaveLength(4 * WAVE);
    // In order: the contract promises a session's messages leave in the order they were
    // accepted (no sendAt or priority here), so each recipient gets them in that order too.
    const sentOrder = [...log].sort((a, b) => a.seq - b.seq).map((s) => s.body);
    for (const to of RECIPIENTS) {
      const mine = new Set(accepted.filter((m) => m.to === to).map((m) => m.text));
      expect(sentOrder.filter((body) => mine.has(body))).toEqual(
        accepted.filter((m) => m.to === to).map((m) => m.text),
      );
    }
  });

  it(
    'takes the acks to message status: every message reaches delivered or read',
    async () => {
      const behind = async () => {
        const statuses: { n: number; status: string }[] = [];
        for (const [n, m] of accepted.entries())
          statuses.push({ n, status: (await sys.api.get(`/api/messages/${m.id}`)).body.status });
        return statuses.filter((s) => !['delivered', 'read'].includes(s.status));
      };
      let left = await behind();
      await waitFor(
        'every message delivered or read',
        async () => (left = await behind()).length === 0,
        PATIENCE_MS,
        500,
      ).catch(() => undefined);
      // The ones left behind, by their number (the fault they were sent around), if any.
      expect(left).toEqual([]);
    },
    2 * PATIENCE_MS,
  );

  it(
    'takes a message the phone receives to the event stream',
    async () => {
      received = await SseClient.open(
        sys.gateway.url,
        `/api/events?session=${SESSION}&types=message.received`,
        { 'x-api-key': TEST_API_KEY },
      );
      expect(received.status).toBe(200);
      const { waMessageId } = await emulator.control.incoming(PHONE, {
        from: '15550002222',
        body: 'hello from a customer of the emulator',
      });
      // In the durable log first (the worker got it), then on the live stream (the gateway).
      await waitFor(
        'message.received in the event log',
        async () =>
          (await readEvents(redis, keys)).some(
            (e) =>
              e.type === 'message.received' &&
              (e.data as { waMessageId?: string }).waMessageId === waMessageId,
          ),
        PATIENCE_MS,
        250,
      );
      await received.waitUntil(
        'message.received on the event stream',
        () => received.parsed.some((e) => e.json.data?.waMessageId === waMessageId),
        PATIENCE_MS,
      );
      const event = received.parsed.find((e) => e.json.data?.waMessageId === waMessageId)!;
      expect(event.json).toMatchObject({
        type: 'message.received',
        session: SESSION,
        data: {
          from: '15550002222',
          chatId: '15550002222@c.us',
          text: 'hello from a customer of the emulator',
          type: 'chat',
          media: null,
        },
      });
    },
    2 * PATIENCE_MS,
  );

  it(
    'measures the simulator on the same browser crash, for comparison (figures only)',
    async () => {
      await sys.readySession('sim', { driver: 'simulator' });
      const at = Date.now();
      const fault = await sys.api.post('/api/sessions/sim/simulator/faults', {
        type: 'browser-crash',
      });
      expect(fault.status).toBe(202);
      figures.simulatorBrowserCrash = await lossAndRecovery(at, 'sim');
    },
    PATIENCE_MS,
  );
});
