import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { RedisKeys } from '@app/core';
import { sharedRedisUrl, uniquePrefix } from '../../../test/support/redis-server';
import { FakeWwebjsClient } from '../../../test/support/fake-wwebjs-client';
import { waitFor } from '../../../test/support/wait-for';
import type { MessageContent } from '@app/queue';
import { SessionDriver, type DriverStateEvent, type OutgoingMessage } from './session-driver';
import { SessionDriverError } from './session.errors';
import type { IncomingMessage } from './incoming';
import { rejection } from '../../../test/support/driver-rejection';
import { DEFAULT_SIMULATOR_OPTIONS } from './session.types';
import { SimulatorDriver } from './drivers/simulator/simulator.driver';
import { WwebjsDriver } from './drivers/wwebjs/wwebjs.driver';
import { createWwebjsDriver } from './drivers/wwebjs/create-wwebjs-driver';
import { realClientFactory, type WwebjsClient } from './drivers/wwebjs/wwebjs-client';
import { pidsUsingProfile } from './drivers/wwebjs/browser/process-tree';
import { startEmulator, type RunningEmulator } from '../../../apps/wa-emulator/src';

/**
 * The driver contract: what the worker relies on, run against every driver. The simulator runs
 * for real on Redis; whatsapp-web.js runs with its Client scripted at the module boundary, and
 * for real (the unmodified library in the real Chromium) against the WhatsApp Web emulator.
 */
interface Subject {
  driver: SessionDriver;
  /** How long a step may take: a real browser launches, loads a page and links in seconds. */
  patienceMs: number;
  /** Brings the session to `ready` the way its engine does (the phone "scans"). */
  link(): void | Promise<void>;
  /** Kills the browser side the way the engine reports it. */
  crash(): Promise<void>;
  /**
   * After stop(): lets the engine do everything that could still reach the driver (pending
   * timers fire, the closed browser reports its end) and resolves once it has.
   */
  afterStop(): Promise<void>;
  /** Someone sends the account a message, the way the engine receives one; its WhatsApp id. */
  receive(
    chatId: string,
    text: string,
    media?: { mimetype: string; data: Buffer; filename: string },
  ): Promise<string>;
}

/** The same media limits on every driver: bad media must fail the same way on each. */
const MEDIA = { maxBytes: 1 << 20, timeoutMs: 1000, allowPrivate: false };

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
let redis: Redis;
let dir: string;
/** One emulator for the whole file: each test links a fresh device (a fresh profile) to it. */
let emulator: RunningEmulator;
/** Every emulated session links its own account: one linked device per phone, as on WhatsApp. */
let emulatedAccounts = 0;

/** A real browser launch and link take seconds, more on a loaded 2-core machine. */
const REAL_BROWSER_PATIENCE_MS = 60000;
jest.setTimeout(3 * REAL_BROWSER_PATIENCE_MS);

const simulator = (): SimulatorDriver =>
  new SimulatorDriver(
    {
      sessionId: 'contract',
      redis,
      keys: new RedisKeys(uniquePrefix('contract')),
      logger: silent,
      media: MEDIA,
    },
    { ...DEFAULT_SIMULATOR_OPTIONS, linkAfterMs: 300, sendLatencyMs: 5 },
  );

const subjects: [string, () => Subject][] = [
  [
    'simulator',
    () => {
      const driver = simulator();
      return {
        driver,
        patienceMs: 5000,
        // The simulated owner scans by itself after linkAfterMs.
        link: () => undefined,
        crash: () => driver.injectFault({ type: 'browser-crash' }),
        // A witness started after the stop runs the same timers, later: once it is ready, every
        // timer the stopped driver had pending would have fired.
        receive: async (chatId, text, media) => {
          const waMessageId = `false_${chatId}_3EB0SIM${Math.random().toString(16).slice(2)}`;
          await driver.simulateIncoming({
            waMessageId,
            chatId,
            ...(media
              ? {
                  media: {
                    base64: media.data.toString('base64'),
                    mimetype: media.mimetype,
                    filename: media.filename,
                    caption: text,
                  },
                }
              : { text }),
          });
          return waMessageId;
        },
        afterStop: async () => {
          const witness = simulator();
          const ready = new Promise<void>((resolve) =>
            witness.on('state', (s) => s.status === 'ready' && resolve()),
          );
          await witness.start();
          await ready;
          await witness.stop();
        },
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
          webVersionCacheDir: join(dir, '.wwebjs_cache'),
          authStrategy: () => ({}),
          media: MEDIA,
          startTimeoutMs: 1000,
          reconcileTries: 1,
          clientFactory: (o) => (client = new FakeWwebjsClient(o)),
        },
      );
      return {
        driver,
        patienceMs: 5000,
        link: () => client.link('15550000000'),
        receive: async (chatId, text, media) =>
          client.receive({ from: chatId, body: text, media }).id._serialized,
        crash: async () => {
          // The driver watches the browser once whatsapp-web.js exposes it.
          await waitFor('the browser watched', () =>
            client.pupBrowser!.listenerCount('disconnected'),
          );
          client.pupBrowser!.crash();
        },
        // What a destroyed client can still deliver: the browser's end, a late disconnect, a
        // late ack. The fake emits synchronously.
        afterStop: async () => {
          client.pupBrowser!.crash();
          client.pupPage!.emit('close');
          client.emit('disconnected', 'NAVIGATION');
          client.ack(
            { id: { _serialized: 'true_15551112222@c.us_3EB0LATE', fromMe: true }, ack: 1 },
            3,
          );
        },
      };
    },
  ],
  [
    'wwebjs on the emulator',
    () => {
      // A fresh folder per test: a new profile is a new device to the emulator, linked by QR.
      const dataDir = mkdtempSync(join(dir, 'emulated-'));
      const profileDir = join(dataDir, 'session-contract');
      const phone = `1555700${String(++emulatedAccounts).padStart(4, '0')}`;
      let client: WwebjsClient | undefined;
      const qrs: string[] = [];
      // The real factory of the worker (LocalAuth, the flag profile + the emulator's flags);
      // the client factory is wrapped only to keep a handle on the real Client it makes.
      const driver = createWwebjsDriver(
        { sessionId: 'contract', redis, keys: new RedisKeys('t'), logger: silent, media: MEDIA },
        {
          chromiumPath: '/usr/bin/chromium',
          chromiumExtraArgs: emulator.chromiumArgs.join(' '),
          sessionDataDir: dataDir,
          sessionStore: 'local',
          startTimeoutMs: REAL_BROWSER_PATIENCE_MS,
          clientFactory: (o) => (client = realClientFactory(o)),
        },
      );
      driver.on('state', (s) => s.status === 'qr' && s.qr && qrs.push(s.qr));
      const browser = () =>
        client?.pupBrowser as
          | (WwebjsClient['pupBrowser'] & { connected: boolean; listenerCount(e: string): number })
          | null
          | undefined;
      return {
        driver,
        patienceMs: REAL_BROWSER_PATIENCE_MS,
        // The phone scans the QR whatsapp-web.js emitted, as a user scans the one the API shows.
        link: async () => {
          await waitFor('a QR to scan', () => qrs.length > 0, REAL_BROWSER_PATIENCE_MS, 25);
          await emulator.control.scan(qrs[qrs.length - 1], phone);
        },
        receive: async (chatId, text, media) => {
          const { waMessageId } = await emulator.control.incoming(phone, {
            from: chatId.split('@')[0],
            // A sender without a push name, like the other subjects' (the emulator makes one up
            // when it is not told; WhatsApp gives none for a sender who never set one).
            pushname: '',
            ...(media
              ? {
                  media: {
                    mimetype: media.mimetype,
                    filename: media.filename,
                    base64: media.data.toString('base64'),
                    caption: text,
                  },
                }
              : { body: text }),
          });
          return waMessageId;
        },
        crash: async () => {
          // The driver watches the browser once whatsapp-web.js exposes it (long before ready).
          await waitFor('the browser watched', () => browser()?.listenerCount('disconnected'));
          process.kill(browser()!.process()!.pid!, 'SIGKILL');
        },
        // Everything that could still reach the stopped driver comes from its browser: its end
        // (puppeteer's `disconnected`), and the page's link to WhatsApp (late acks, incoming
        // messages, QR rotations). Once the browser is gone, puppeteer has said so, and the
        // emulator no longer holds a link to any device, nothing can arrive any more.
        afterStop: async () => {
          const patience = REAL_BROWSER_PATIENCE_MS;
          await waitFor(
            'no browser on the profile',
            () => pidsUsingProfile(profileDir).length === 0,
            patience,
            25,
          );
          await waitFor(
            'puppeteer to see the browser gone',
            () => !browser()?.connected,
            patience,
            25,
          );
          await waitFor(
            'the emulator to hold no link to a device',
            async () => (await emulator.control.devices()).every((d) => !d.connected),
            patience,
            25,
          );
        },
      };
    },
  ],
];

beforeAll(async () => {
  redis = new Redis(sharedRedisUrl());
  dir = mkdtempSync(join(tmpdir(), 'contract-'));
  // Quiet: the emulator's own logs would drown the suite's output.
  emulator = await startEmulator({ logger: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await redis.quit();
  await emulator?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(subjects)('driver contract: %s', (_name, make) => {
  let subject: Subject;
  let states: DriverStateEvent[];
  let lost: SessionDriverError[];
  let incoming: IncomingMessage[];

  const message = (id: string, text: string, content?: MessageContent): OutgoingMessage => ({
    messageId: id,
    chatId: '15551112222@c.us',
    content: content ?? { text },
    contentHash: id,
    attemptStartedAt: Date.now() - 1000,
  });

  const until = (what: string, check: () => boolean) => waitFor(what, check, subject.patienceMs, 5);

  async function readyDriver(): Promise<SessionDriver> {
    await subject.driver.start();
    await subject.link();
    await until('ready', () => states.some((s) => s.status === 'ready'));
    return subject.driver;
  }

  beforeEach(() => {
    subject = make();
    states = [];
    lost = [];
    incoming = [];
    subject.driver.on('state', (s) => states.push(s));
    subject.driver.on('lost', (e) => lost.push(e));
    subject.driver.on('incoming', (m) => incoming.push(m));
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
    await subject.afterStop();
    expect(states.length + lost.length).toBe(count);
  });

  it('stops while linking, and the link it was waiting for emits nothing', async () => {
    await subject.driver.start();
    await subject.driver.stop();
    const count = states.length + lost.length;
    await subject.afterStop();
    expect(states.length + lost.length).toBe(count);
  });

  // Media is loaded by the same loader, with the same limits, on every driver: bad media fails
  // with the same code and failure class whichever driver runs the session, before anything is
  // sent.
  const PNG = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
    'base64',
  );
  const BAD_MEDIA: [string, string, MessageContent['media']][] = [
    [
      'base64 that is not base64',
      'INVALID_MEDIA',
      { base64: 'not base64!', mimetype: 'image/png' },
    ],
    ['inline media without a mimetype', 'INVALID_MEDIA', { base64: PNG.toString('base64') }],
    [
      'a mimetype the bytes contradict',
      'INVALID_MEDIA',
      { base64: PNG.toString('base64'), mimetype: 'application/pdf' },
    ],
    [
      'media over MEDIA_MAX_BYTES',
      'MEDIA_TOO_LARGE',
      { base64: Buffer.alloc(MEDIA.maxBytes + 1, 7).toString('base64'), mimetype: 'video/mp4' },
    ],
    ['a URL to a loopback address', 'MEDIA_URL_FORBIDDEN', { url: 'http://127.0.0.1:9/a.png' }],
    ['a URL that is not http(s)', 'INVALID_MEDIA', { url: 'file:///etc/passwd' }],
  ];

  it.each(BAD_MEDIA)(
    'refuses %s as a permanent %s, sending nothing',
    async (_what, code, media) => {
      const driver = await readyDriver();
      const bad = message('m-bad', '', { media: { ...media!, caption: 'bad media' } });
      const err = await driver.send(bad).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SessionDriverError);
      expect({
        code: (err as SessionDriverError).code,
        failure: (err as SessionDriverError).failure,
      }).toEqual({ code, failure: 'permanent' });
      expect(await driver.findSent(bad)).toBeNull();
    },
  );

  it('sends good inline media', async () => {
    const driver = await readyDriver();
    const media = { base64: PNG.toString('base64'), mimetype: 'image/png', caption: 'a dot' };
    const sent = await driver.send(message('m-media', '', { media }));
    expect(sent.waMessageId).toEqual(expect.any(String));
  });

  // Incoming messages: every driver reports them with the same fields, media as metadata only,
  // and fetches the media on demand.
  it('reports a received text message with its sender, chat and time', async () => {
    await readyDriver();
    const before = Date.now() - 1000;
    const id = await subject.receive('15551112222@c.us', 'hello from a customer');
    await until('the message received', () => incoming.length > 0);
    expect(incoming).toEqual([
      {
        waMessageId: id,
        from: '15551112222',
        chatId: '15551112222@c.us',
        senderName: null,
        text: 'hello from a customer',
        type: 'chat',
        media: null,
        timestamp: expect.any(String),
        isGroup: false,
      },
    ]);
    expect(Date.parse(incoming[0].timestamp)).toBeGreaterThanOrEqual(before);
  });

  it('reports received media as metadata, and downloads its bytes on demand', async () => {
    const driver = await readyDriver();
    const id = await subject.receive('15551112222@c.us', 'a dot', {
      mimetype: 'image/png',
      data: PNG,
      filename: 'dot.png',
    });
    await until('the message received', () => incoming.length > 0);
    expect(incoming[0]).toMatchObject({
      waMessageId: id,
      text: 'a dot',
      type: 'image',
      media: { mimetype: 'image/png', filename: 'dot.png', size: PNG.length },
    });
    const media = await driver.downloadIncomingMedia(id);
    expect(media).toEqual({ mimetype: 'image/png', filename: 'dot.png', data: PNG });
  });

  it('refuses downloads of unknown messages and of messages without media, with codes', async () => {
    const driver = await readyDriver();
    const text = await subject.receive('15551112222@c.us', 'no media here');
    const unknown = await rejection(
      driver.downloadIncomingMedia('false_15551112222@c.us_3EB0NEVERSEEN'),
    );
    expect([unknown.code, unknown.failure]).toEqual(['INCOMING_MESSAGE_NOT_FOUND', 'permanent']);
    const none = await rejection(driver.downloadIncomingMedia(text));
    expect([none.code, none.failure]).toEqual(['NO_MEDIA', 'permanent']);
  });

  it('refuses downloads before ready with a session failure', async () => {
    await subject.driver.start();
    const err = await rejection(
      subject.driver.downloadIncomingMedia('false_15551112222@c.us_3EB0EARLY'),
    );
    expect(err.failure).toBe('session');
  });
});
