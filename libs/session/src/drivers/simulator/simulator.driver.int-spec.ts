import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis, RedisKeys, waitForReady } from '@app/core';
import {
  sharedRedisUrl,
  uniquePrefix,
  deleteByPrefix,
} from '../../../../../test/support/redis-server';
import { waitFor } from '../../../../../test/support/wait-for';
import type {
  AckEvent,
  DriverLogger,
  DriverStateEvent,
  OutgoingMessage,
} from '../../session-driver';
import { SessionDriverError, SessionErrorCode } from '../../session.errors';
import {
  DEFAULT_SIMULATOR_OPTIONS,
  type FaultType,
  type SessionStatus,
  type SimulatorOptions,
} from '../../session.types';
import { SimulatorDevice } from './simulator-device';
import { SimulatorOutbox } from './simulator-outbox';
import { SimulatorDriver } from './simulator.driver';
import { rejection } from '../../../../../test/support/driver-rejection';

const OPTIONS: SimulatorOptions = {
  ...DEFAULT_SIMULATOR_OPTIONS,
  linkAfterMs: 60,
  sendLatencyMs: 20,
  deliveredAfterMs: 30,
  readAfterMs: 60,
  notOnWhatsApp: ['15559999999'],
};
/** Timers may fire up to a millisecond before Date.now() says the full delay has passed. */
const CLOCK_SLACK_MS = 2;

const prefix = uniquePrefix('simulator');
const keys = new RedisKeys(prefix);
const silentLogger: DriverLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
let redis: Redis;
let outbox: SimulatorOutbox;
const liveDrivers = new Set<SimulatorDriver>();

beforeAll(async () => {
  redis = createRedis(sharedRedisUrl(), 'worker', `${prefix}-driver`);
  await waitForReady(redis, 5000);
  outbox = new SimulatorOutbox(redis, keys);
});

afterEach(async () => {
  await Promise.all([...liveDrivers].map((d) => d.stop()));
  liveDrivers.clear();
});

afterAll(async () => {
  await deleteByPrefix(redis, prefix);
  await redis.quit();
});

interface Recorded<T> {
  at: number;
  event: T;
}

/** Everything a driver emitted, with the time it was emitted. */
interface DriverEvents {
  states: Recorded<DriverStateEvent>[];
  lost: Recorded<SessionDriverError>[];
  acks: Recorded<AckEvent>[];
  count(): number;
}

interface TestDriver {
  driver: SimulatorDriver;
  events: DriverEvents;
  sessionId: string;
}

function newSessionId(): string {
  return `sim-${randomUUID().slice(0, 8)}`;
}

function newDriver(
  sessionId = newSessionId(),
  options: Partial<SimulatorOptions> = {},
): TestDriver {
  const driver = new SimulatorDriver(
    { sessionId, redis, keys, logger: silentLogger },
    { ...OPTIONS, ...options },
  );
  liveDrivers.add(driver);
  const events: DriverEvents = {
    states: [],
    lost: [],
    acks: [],
    count() {
      return this.states.length + this.lost.length + this.acks.length;
    },
  };
  driver.on('state', (event) => events.states.push({ at: Date.now(), event }));
  driver.on('lost', (event) => events.lost.push({ at: Date.now(), event }));
  driver.on('ack', (event) => events.acks.push({ at: Date.now(), event }));
  return { driver, events, sessionId };
}

function statuses(events: DriverEvents): SessionStatus[] {
  return events.states.map((s) => s.event.status);
}

function stateEvent(events: DriverEvents, status: SessionStatus): Recorded<DriverStateEvent> {
  const found = events.states.find((s) => s.event.status === status);
  if (!found) throw new Error(`no ${status} event among ${statuses(events).join(', ')}`);
  return found;
}

async function reachStatus(events: DriverEvents, status: SessionStatus, after = 0): Promise<void> {
  await waitFor(
    `the driver to report ${status}`,
    () => events.states.some((s, i) => i >= after && s.event.status === status),
    5000,
    5,
  );
}

/** A started driver that has reached ready (linking the device on first use). */
async function readyDriver(
  sessionId = newSessionId(),
  options: Partial<SimulatorOptions> = {},
): Promise<TestDriver> {
  const test = newDriver(sessionId, options);
  await test.driver.start();
  await reachStatus(test.events, 'ready');
  return test;
}

function message(chatId = '15551234567@c.us', text = 'hello'): OutgoingMessage {
  return {
    messageId: randomUUID(),
    chatId,
    content: { text },
    contentHash: 'hash',
    attemptStartedAt: Date.now(),
  };
}

/** Tracks when a promise settles, without awaiting it. */
function track<T>(promise: Promise<T>): { settled: () => boolean; settledAt: () => number } {
  let at = 0;
  promise.then(
    () => (at = Date.now()),
    () => (at = Date.now()),
  );
  return { settled: () => at > 0, settledAt: () => at };
}

/** Lets callbacks already due (a send reaching its latency wait) run. */
function letPendingWorkRun(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('SimulatorDriver', () => {
  describe('lifecycle', () => {
    it('goes starting → qr → authenticating → ready, linking after linkAfterMs', async () => {
      const { driver, events } = newDriver();

      await driver.start();
      await reachStatus(events, 'ready');

      expect(statuses(events)).toEqual(['starting', 'qr', 'authenticating', 'ready']);
      const qr = stateEvent(events, 'qr');
      expect(qr.event.qr).toMatch(/^2@\S+,\S+,\S+,\S+$/);
      const authenticating = stateEvent(events, 'authenticating');
      expect(authenticating.at - qr.at).toBeGreaterThanOrEqual(
        OPTIONS.linkAfterMs - CLOCK_SLACK_MS,
      );
      expect(stateEvent(events, 'ready').event.phone).toBe(OPTIONS.phone);
    });

    it('answers as WhatsApp Web would at each stage', async () => {
      const { driver, events } = newDriver();
      await driver.start();
      await reachStatus(events, 'qr');

      expect((await driver.probe()).state).toBe('UNPAIRED');
      expect(await driver.requestPairingCode('15550000000')).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}$/);
      const notReady = await rejection(driver.send(message()));
      expect({ code: notReady.code, failure: notReady.failure }).toEqual({
        code: SessionErrorCode.SessionNotReady,
        failure: 'session',
      });

      await reachStatus(events, 'ready');
      expect((await driver.probe()).state).toBe('CONNECTED');
      expect((await rejection(driver.requestPairingCode('15550000000'))).code).toBe(
        SessionErrorCode.SessionNotReady,
      );
    });

    it('starts only once per instance', async () => {
      const { driver } = newDriver();
      await driver.start();

      await expect(driver.start()).rejects.toThrow('starts once');
    });

    it('takes over a linked session without a new QR', async () => {
      const first = await readyDriver();
      await first.driver.stop();

      const second = await readyDriver(first.sessionId);

      expect(statuses(second.events)).toEqual(['starting', 'authenticating', 'ready']);
      expect(stateEvent(second.events, 'ready').event.phone).toBe(OPTIONS.phone);
    });

    it('stops its timers: nothing is emitted or linked after stop()', async () => {
      // A witness started at the same moment with the same timings: once it is ready and has
      // its read ack, every timer the stopped driver had would have fired.
      const stopped = newDriver();
      const witness = newDriver();
      await Promise.all([stopped.driver.start(), witness.driver.start()]);
      await reachStatus(stopped.events, 'qr');
      await stopped.driver.stop();
      const emittedBeforeStop = stopped.events.count();

      await reachStatus(witness.events, 'ready');
      await witness.driver.send(message());
      await waitFor('the witness read ack', () => witness.events.acks.length === 2, 5000, 5);

      expect(stopped.events.count()).toBe(emittedBeforeStop);
      const device = await new SimulatorDevice(redis, keys, stopped.sessionId).read();
      expect(device.linked).toBe(false);
    });

    it('stops with pending acks and emits none of them', async () => {
      const stopped = await readyDriver();
      const witness = await readyDriver();
      await Promise.all([stopped.driver.send(message()), witness.driver.send(message())]);
      await stopped.driver.stop();

      await waitFor('the witness read ack', () => witness.events.acks.length === 2, 5000, 5);

      expect(stopped.events.acks).toEqual([]);
    });

    it('forgets the linked device on stop with logout', async () => {
      const { driver, sessionId } = await readyDriver();

      await driver.stop({ logout: true });

      const next = await readyDriver(sessionId);
      expect(statuses(next.events)).toEqual(['starting', 'qr', 'authenticating', 'ready']);
    });
  });

  describe('one client per linked device', () => {
    it('refuses the in-flight send of a client superseded by another, and reports CONFLICT', async () => {
      // A worker frozen while its send is pending; another opens the session meanwhile.
      const old = await readyDriver(newSessionId(), { sendLatencyMs: 300 });
      const pending = old.driver.send(message());
      const outcome = pending.then(
        () => null,
        (err: unknown) => err,
      );
      const next = await readyDriver(old.sessionId);
      const err = (await outcome) as SessionDriverError;
      expect(err).toBeInstanceOf(SessionDriverError);
      expect(err.code).toBe(SessionErrorCode.Conflict);
      expect(await outbox.list(old.sessionId)).toEqual([]);
      expect(old.events.lost.map((l) => l.event.code)).toEqual([SessionErrorCode.Conflict]);
      // The current client sends as usual.
      await next.driver.send(message());
      expect(await outbox.list(old.sessionId)).toHaveLength(1);
    });

    it('lets only the lease holder open the device', async () => {
      const sessionId = newSessionId();
      const fence = { key: keys.lease(sessionId), value: 'worker-a|1' };
      await redis.set(fence.key, 'worker-b|2');
      const driver = new SimulatorDriver(
        { sessionId, redis, keys, logger: silentLogger, fence },
        OPTIONS,
      );
      liveDrivers.add(driver);
      expect((await rejection(driver.start())).code).toBe(SessionErrorCode.Conflict);
    });
  });

  describe('send', () => {
    it('records the message in the outbox and returns its WhatsApp id', async () => {
      const { driver, sessionId } = await readyDriver();
      const outgoing = message('15551234567@c.us', 'hi there');

      const result = await driver.send(outgoing);

      expect(result.waMessageId).toMatch(/^true_15551234567@c\.us_3EB0[0-9A-F]{16}$/);
      expect(Date.parse(result.at)).not.toBeNaN();
      expect(await outbox.list(sessionId)).toEqual([
        {
          messageId: outgoing.messageId,
          waMessageId: result.waMessageId,
          to: '15551234567@c.us',
          text: 'hi there',
          at: result.at,
        },
      ]);
    });

    it('takes sendLatencyMs per send', async () => {
      const { driver } = await readyDriver(newSessionId(), { sendLatencyMs: 80 });
      const startedAt = Date.now();

      await driver.send(message());

      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(80 - CLOCK_SLACK_MS);
    });

    it('emits delivered then read acks for a sent message', async () => {
      const { driver, events } = await readyDriver();

      const sentAt = Date.now();
      const { waMessageId } = await driver.send(message());
      await waitFor('both acks', () => events.acks.length === 2, 5000, 5);

      expect(events.acks.map((a) => a.event)).toEqual([
        { waMessageId, status: 'delivered' },
        { waMessageId, status: 'read' },
      ]);
      expect(events.acks[0].at - sentAt).toBeGreaterThanOrEqual(
        OPTIONS.deliveredAfterMs - CLOCK_SLACK_MS,
      );
      expect(events.acks[1].at).toBeGreaterThanOrEqual(events.acks[0].at);
    });

    it('findSent finds a sent message and returns null for an unsent one', async () => {
      const { driver } = await readyDriver();
      const sent = message();
      const result = await driver.send(sent);

      expect(await driver.findSent(sent)).toEqual(result);
      expect(await driver.findSent(message())).toBeNull();
    });

    it('fails a number that is not on WhatsApp permanently, sending nothing', async () => {
      const { driver, sessionId } = await readyDriver();

      const err = await rejection(driver.send(message('15559999999@c.us')));

      expect({ code: err.code, failure: err.failure }).toEqual({
        code: SessionErrorCode.NotOnWhatsApp,
        failure: 'permanent',
      });
      expect(await outbox.list(sessionId)).toEqual([]);
      expect(await driver.checkNumber('15559999999@c.us')).toEqual({
        chatId: '15559999999@c.us',
        onWhatsApp: false,
      });
      expect((await driver.checkNumber('15551234567@c.us')).onWhatsApp).toBe(true);
    });
  });

  describe('incoming messages', () => {
    const PNG = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
      'base64',
    );

    it('keeps received media on its simulated servers: the next owner downloads it, for a day at most', async () => {
      const first = await readyDriver();
      const waMessageId = 'false_15551234567@c.us_3EB0KEPT';
      await first.driver.simulateIncoming({
        waMessageId,
        chatId: '15551234567@c.us',
        media: { base64: PNG.toString('base64'), mimetype: 'image/png', filename: 'dot.png' },
      });
      await first.driver.stop();

      const next = await readyDriver(first.sessionId);
      expect(await next.driver.downloadIncomingMedia(waMessageId)).toEqual({
        mimetype: 'image/png',
        filename: 'dot.png',
        data: PNG,
      });
      const ttl = await redis.ttl(keys.simulatorIncoming(first.sessionId, waMessageId));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(86400);
    });

    it('refuses to receive while not ready, as a session failure', async () => {
      const { driver } = newDriver(newSessionId(), { linkAfterMs: 60000 });
      await driver.start();
      const err = await rejection(
        driver.simulateIncoming({
          waMessageId: 'false_1@c.us_3EB0X',
          chatId: '1@c.us',
          text: 'hi',
        }),
      );
      expect([err.code, err.failure]).toEqual([SessionErrorCode.SessionNotReady, 'session']);
    });
  });

  describe('crash faults', () => {
    const CRASHES: [FaultType, SessionErrorCode][] = [
      ['browser-crash', SessionErrorCode.BrowserCrashed],
      ['frame-detached', SessionErrorCode.FrameDetached],
      ['session-closed', SessionErrorCode.SessionClosed],
      ['conflict', SessionErrorCode.Conflict],
      ['memory-pressure', SessionErrorCode.OutOfMemory],
    ];

    it.each(CRASHES)('%s: emits lost with %s, and the driver is dead', async (type, code) => {
      const { driver, events } = await readyDriver();

      await driver.injectFault({ type });

      expect(events.lost).toHaveLength(1);
      expect(events.lost[0].event).toBeInstanceOf(SessionDriverError);
      expect({ code: events.lost[0].event.code, failure: events.lost[0].event.failure }).toEqual({
        code,
        failure: 'session',
      });
      const sendError = await rejection(driver.send(message()));
      expect(sendError.failure).toBe('session');
      await expect(driver.probe()).rejects.toBeInstanceOf(SessionDriverError);
    });

    it('with durationMs keeps a new driver from starting until it has passed', async () => {
      const durationMs = 150;
      const crashed = await readyDriver();
      const faultAt = Date.now();
      await crashed.driver.injectFault({ type: 'browser-crash', durationMs });

      const refused = await rejection(newDriver(crashed.sessionId).driver.start());
      expect({ code: refused.code, failure: refused.failure }).toEqual({
        code: SessionErrorCode.BrowserCrashed,
        failure: 'session',
      });

      const restarted = await waitFor(
        'a new driver to start',
        async () => {
          const attempt = newDriver(crashed.sessionId);
          await attempt.driver.start();
          return attempt;
        },
        5000,
        10,
      );
      expect(Date.now() - faultAt).toBeGreaterThanOrEqual(durationMs - CLOCK_SLACK_MS);
      await reachStatus(restarted.events, 'ready');
      // The device stayed linked through the crash.
      expect(statuses(restarted.events)).not.toContain('qr');
    });

    it('during the send latency leaves the outcome unknown and sends nothing', async () => {
      const { driver, sessionId } = await readyDriver(newSessionId(), { sendLatencyMs: 100 });
      const outgoing = message();

      const sending = driver.send(outgoing);
      await letPendingWorkRun();
      await driver.injectFault({ type: 'browser-crash' });

      const err = await rejection(sending);
      expect(err.failure).toBe('unknown_outcome');
      expect(err.code).toBe(SessionErrorCode.UnknownOutcome);
      expect(await outbox.list(sessionId)).toEqual([]);
      expect(await driver.findSent(outgoing)).toBeNull();
    });
  });

  describe('logout fault', () => {
    it('reports logged_out, shows a new QR and is ready again after linkAfterMs', async () => {
      const { driver, events, sessionId } = await readyDriver();
      const seen = events.states.length;

      await driver.injectFault({ type: 'logout' });
      await reachStatus(events, 'ready', seen);

      const after = events.states.slice(seen);
      expect(after.map((s) => s.event.status)).toEqual([
        'logged_out',
        'qr',
        'authenticating',
        'ready',
      ]);
      expect(after[0].event.error?.code).toBe(SessionErrorCode.LoggedOut);
      expect(after[1].event.qr).toEqual(expect.any(String));
      expect(after[3].at - after[1].at).toBeGreaterThanOrEqual(
        OPTIONS.linkAfterMs - CLOCK_SLACK_MS,
      );
      expect(events.lost).toEqual([]);
      expect((await new SimulatorDevice(redis, keys, sessionId).read()).linked).toBe(true);
    });

    it('refuses to send while logged out', async () => {
      const { driver, events } = await readyDriver();

      await driver.injectFault({ type: 'logout' });

      expect(statuses(events)).toContain('logged_out');
      expect((await rejection(driver.send(message()))).code).toBe(SessionErrorCode.SessionNotReady);
    });
  });

  describe('hang fault', () => {
    it('holds a send until durationMs has passed, then completes it', async () => {
      const durationMs = 100;
      const { driver, sessionId } = await readyDriver();
      const hungAt = Date.now();
      await driver.injectFault({ type: 'hang', durationMs });

      const outgoing = message();
      const sending = driver.send(outgoing);
      const progress = track(sending);
      const result = await sending;

      expect(progress.settledAt() - hungAt).toBeGreaterThanOrEqual(
        durationMs + OPTIONS.sendLatencyMs - CLOCK_SLACK_MS,
      );
      expect((await outbox.list(sessionId)).map((e) => e.messageId)).toEqual([outgoing.messageId]);
      expect(await driver.findSent(outgoing)).toEqual(result);
    });

    it('without durationMs holds a send until stop(), which leaves its outcome unknown', async () => {
      const { driver, sessionId } = await readyDriver();
      await driver.injectFault({ type: 'hang' });
      const sending = driver.send(message());
      const progress = track(sending);

      // Well past the send latency, the send is still held.
      const witness = await readyDriver();
      await witness.driver.send(message());
      await witness.driver.send(message());
      expect(progress.settled()).toBe(false);

      await driver.stop();

      const err = await rejection(sending);
      expect(err.failure).toBe('unknown_outcome');
      expect(await outbox.list(sessionId)).toEqual([]);
    });

    it('a crash ends a hung send with an unknown outcome', async () => {
      const { driver, events } = await readyDriver();
      await driver.injectFault({ type: 'hang' });
      const sending = driver.send(message());

      await driver.injectFault({ type: 'frame-detached' });

      expect((await rejection(sending)).failure).toBe('unknown_outcome');
      expect(events.lost.map((l) => l.event.code)).toEqual([SessionErrorCode.FrameDetached]);
    });
  });
});
