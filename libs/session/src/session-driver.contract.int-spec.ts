import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@app/core';
import { sharedRedisUrl, uniquePrefix } from '../../../test/support/redis-server';
import { FakeWwebjsClient } from '../../../test/support/fake-wwebjs-client';
import { SessionDriver, type DriverStateEvent, type OutgoingMessage } from './session-driver';
import { SessionDriverError } from './session.errors';
import { DEFAULT_SIMULATOR_OPTIONS } from './session.types';
import { SimulatorDriver } from './drivers/simulator/simulator.driver';
import { WwebjsDriver } from './drivers/wwebjs/wwebjs.driver';

/**
 * The driver contract: what the worker relies on, run against every driver. The simulator runs
 * for real on Redis; whatsapp-web.js runs with its Client scripted at the module boundary.
 */
interface Subject {
  driver: SessionDriver;
  /** Brings the session to `ready` the way its engine does (the phone "scans"). */
  link(): void;
  /** Kills the browser side the way the engine reports it. */
  crash(): Promise<void>;
}

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
let redis: Redis;
let dir: string;

const subjects: [string, () => Subject][] = [
  [
    'simulator',
    () => {
      const driver = new SimulatorDriver(
        {
          sessionId: 'contract',
          redis,
          keys: new RedisKeys(uniquePrefix('contract')),
          logger: silent,
        },
        { ...DEFAULT_SIMULATOR_OPTIONS, linkAfterMs: 300, sendLatencyMs: 5 },
      );
      return {
        driver,
        // The simulated owner scans by itself after linkAfterMs.
        link: () => undefined,
        crash: () => driver.injectFault({ type: 'browser-crash' }),
      };
    },
  ],
  [
    'wwebjs',
    () => {
      let client!: FakeWwebjsClient;
      const driver = new WwebjsDriver(
        { sessionId: 'contract', redis, keys: new RedisKeys('t'), logger: silent },
        {
          chromiumPath: process.execPath,
          chromiumArgs: [],
          profileDir: join(dir, 'profile'),
          authStrategy: () => ({}),
          media: { maxBytes: 1 << 20, timeoutMs: 1000, allowPrivate: true },
          startTimeoutMs: 1000,
          reconcileTries: 1,
          clientFactory: (o) => (client = new FakeWwebjsClient(o)),
        },
      );
      return {
        driver,
        link: () => client.link('15550000000'),
        crash: async () => {
          await new Promise((r) => setTimeout(r, 60));
          client.pupBrowser!.crash();
        },
      };
    },
  ],
];

beforeAll(() => {
  redis = new Redis(sharedRedisUrl());
  dir = mkdtempSync(join(tmpdir(), 'contract-'));
});
afterAll(async () => {
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(subjects)('driver contract: %s', (_name, make) => {
  let subject: Subject;
  let states: DriverStateEvent[];
  let lost: SessionDriverError[];

  const message = (id: string, text: string): OutgoingMessage => ({
    messageId: id,
    chatId: '15551112222@c.us',
    content: { text },
    contentHash: id,
    attemptStartedAt: Date.now() - 1000,
  });

  async function until(what: string, check: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async function readyDriver(): Promise<SessionDriver> {
    await subject.driver.start();
    subject.link();
    await until('ready', () => states.some((s) => s.status === 'ready'));
    return subject.driver;
  }

  beforeEach(() => {
    subject = make();
    states = [];
    lost = [];
    subject.driver.on('state', (s) => states.push(s));
    subject.driver.on('lost', (e) => lost.push(e));
  });
  afterEach(() => subject.driver.stop());

  it('starts, and reports ready with the phone once linked', async () => {
    await readyDriver();
    expect(states[0].status).toBe('starting');
    expect(states.find((s) => s.status === 'ready')?.phone).toMatch(/^\d+$/);
    expect(await subject.driver.probe()).toMatchObject({ state: 'CONNECTED' });
  });

  it('gives a pairing code while not linked', async () => {
    await subject.driver.start();
    await until(
      'waiting to be linked',
      () => states.some((s) => s.status === 'qr') || _name === 'wwebjs',
    );
    expect(await subject.driver.requestPairingCode('15550001111')).toMatch(
      /^[A-Z0-9]{4}-[A-Z0-9]{4}$/,
    );
  });

  it('refuses to send before ready with a session failure', async () => {
    await subject.driver.start();
    await expect(subject.driver.send(message('m0', 'too early'))).rejects.toMatchObject({
      failure: 'session',
    });
  });

  it('sends, and finds what it sent (and only that) when asked to reconcile', async () => {
    const driver = await readyDriver();
    const sent = await driver.send(message('m1', 'contract hello'));
    expect(sent.waMessageId).toEqual(expect.any(String));
    expect(Number.isNaN(Date.parse(sent.at))).toBe(false);
    expect((await driver.findSent(message('m1', 'contract hello')))?.waMessageId).toBe(
      sent.waMessageId,
    );
    expect(await driver.findSent(message('m2', 'never sent'))).toBeNull();
  });

  it('answers number checks', async () => {
    const driver = await readyDriver();
    const check = await driver.checkNumber('15551112222@c.us');
    expect(check).toEqual({
      chatId: expect.stringMatching(/@c\.us$/),
      onWhatsApp: expect.any(Boolean),
    });
  });

  it('reports a crash as a session loss, after which it cannot send', async () => {
    const driver = await readyDriver();
    await subject.crash();
    await until('lost', () => lost.length > 0);
    expect(lost[0]).toBeInstanceOf(SessionDriverError);
    expect(lost[0].failure).toBe('session');
    await expect(driver.send(message('m3', 'after the crash'))).rejects.toBeInstanceOf(
      SessionDriverError,
    );
  });

  it('stops idempotently and emits nothing afterwards', async () => {
    await readyDriver();
    await subject.driver.stop();
    await subject.driver.stop();
    const count = states.length + lost.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(states.length + lost.length).toBe(count);
  });
});
