import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisKeys } from '@app/core';
import { FakeWwebjsClient } from '../../../../../test/support/fake-wwebjs-client';
import { waitFor } from '../../../../../test/support/wait-for';
import type { AckEvent, DriverStateEvent, OutgoingMessage } from '../../session-driver';
import type { IncomingMessage } from '../../incoming';
import { rejection } from '../../../../../test/support/driver-rejection';
import { SessionDriverError } from '../../session.errors';
import { WwebjsDriver, type WwebjsDriverOptions } from './wwebjs.driver';

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

describe('WwebjsDriver (whatsapp-web.js Client scripted at its module boundary)', () => {
  let dir: string;
  let client: FakeWwebjsClient;
  let driver: WwebjsDriver;
  let states: DriverStateEvent[];
  let lost: SessionDriverError[];
  let acks: AckEvent[];
  let incoming: IncomingMessage[];

  function make(
    opts: Partial<WwebjsDriverOptions> = {},
    setup: (c: FakeWwebjsClient) => void = () => undefined,
  ) {
    driver = new WwebjsDriver(
      { sessionId: 'sales', redis: null as never, keys: new RedisKeys('t'), logger: silent },
      {
        // Any executable will do: the fake client launches nothing.
        chromiumPath: process.execPath,
        chromiumArgs: ['--headless'],
        profileDir: join(dir, 'session-sales'),
        webVersionCacheDir: join(dir, '.wwebjs_cache'),
        authStrategy: () => ({ kind: 'auth' }),
        media: { maxBytes: 1024 * 1024, timeoutMs: 1000, allowPrivate: true },
        startTimeoutMs: 300,
        reconcileTries: 2,
        reconcileGapMs: 10,
        clientFactory: (options) => {
          client = new FakeWwebjsClient(options);
          setup(client);
          return client;
        },
        ...opts,
      },
    );
    states = [];
    lost = [];
    acks = [];
    incoming = [];
    driver.on('state', (s) => states.push(s));
    driver.on('lost', (e) => lost.push(e));
    driver.on('ack', (a) => acks.push(a));
    driver.on('incoming', (m) => incoming.push(m));
  }

  async function ready(): Promise<void> {
    await driver.start();
    client.link();
  }

  /** The driver watches the browser once whatsapp-web.js exposes it (browser-launch-watch.ts). */
  const watched = () =>
    waitFor('the browser watched', () => client.pupBrowser!.listenerCount('disconnected') > 0);

  const message = (text = 'hello', extra: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
    messageId: 'msg_1',
    chatId: '15559876543@c.us',
    content: { text },
    contentHash: 'h',
    attemptStartedAt: Date.now() - 1000,
    ...extra,
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wwebjs-driver-'));
    make();
  });
  afterEach(async () => {
    await driver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('start', () => {
    it('launches the system Chromium headless over a pipe, with the given flags, and no QR retries limit', async () => {
      await driver.start();
      expect(client.options.puppeteer).toMatchObject({
        executablePath: process.execPath,
        headless: true,
        pipe: true,
        args: ['--headless'],
      });
      expect(client.options).toMatchObject({
        qrMaxRetries: 0,
        takeoverOnConflict: false,
        authStrategy: { kind: 'auth' },
        // Not ./.wwebjs_cache in the working directory (read-only /app in the image).
        webVersionCache: { type: 'local', path: join(dir, '.wwebjs_cache') },
      });
      expect(states[0]).toEqual({ status: 'starting' });
    });

    it('maps the lifecycle: qr, authenticated, ready (once, with the phone from client.info)', async () => {
      await ready();
      expect(states.map((s) => s.status)).toEqual(['starting', 'qr', 'authenticating', 'ready']);
      expect(states[1].qr).toMatch(/^2@/);
      expect(states[3].phone).toBe('15551234567');
      // whatsapp-web.js fires ready again on every re-inject (framenavigated).
      client.emit('ready');
      client.emit('ready');
      expect(states.filter((s) => s.status === 'ready')).toHaveLength(1);
    });

    it('treats ready without client.info as a broken client ("has no info - marking as invalid")', async () => {
      await driver.start();
      client.emit('ready');
      expect(lost.map((e) => e.code)).toEqual(['CLIENT_NO_INFO']);
    });

    it('fails to start with a clear reason when WhatsApp Web cannot be reached, and closes the browser', async () => {
      make({}, (c) => (c.initializeBehaviour = 'fail'));
      await expect(driver.start()).rejects.toMatchObject({
        code: 'START_FAILED',
        failure: 'session',
        message: expect.stringContaining('ERR_NAME_NOT_RESOLVED'),
      });
      expect(client.destroyed).toBe(true);
    });

    it('bounds initialize(), which navigates with timeout 0 and can hang forever', async () => {
      make({}, (c) => (c.initializeBehaviour = 'hang'));
      await expect(driver.start()).rejects.toMatchObject({
        code: 'START_FAILED',
        message: expect.stringContaining('did not open within 300 ms'),
      });
      expect(client.destroyed).toBe(true);
    });

    it('refuses a missing browser with a message naming CHROMIUM_PATH', async () => {
      make({ chromiumPath: join(dir, 'no-chromium-here') });
      await expect(driver.start()).rejects.toThrow(/CHROMIUM_PATH/);
    });
  });

  describe('signals', () => {
    it.each([
      ['LOGOUT', 'logged_out', 'LOGGED_OUT'],
      ['UNPAIRED', 'logged_out', 'UNPAIRED'],
      ['TOS_BLOCK', 'failed', 'TOS_BLOCK'],
      ['SMB_TOS_BLOCK', 'failed', 'SMB_TOS_BLOCK'],
      ['DEPRECATED_VERSION', 'failed', 'DEPRECATED_VERSION'],
      ['Max qrcode retries reached', 'failed', 'QR_NOT_SCANNED'],
    ])(
      'disconnected(%s) is an account signal: status %s with code %s, no loss',
      async (reason, status, code) => {
        await ready();
        client.emit('disconnected', reason);
        expect(states[states.length - 1]).toMatchObject({
          status,
          error: { code, message: expect.any(String) },
        });
        expect(lost).toEqual([]);
      },
    );

    it('after LOGOUT the fresh QR in the same browser is reported', async () => {
      await ready();
      client.emit('disconnected', 'LOGOUT');
      client.emit('qr', '2@new');
      expect(states.slice(-2).map((s) => s.status)).toEqual(['logged_out', 'qr']);
    });

    it.each([
      ['CONFLICT', 'CONFLICT'],
      ['NAVIGATION', 'DISCONNECTED'],
    ])('disconnected(%s) is a loss with code %s', async (reason, code) => {
      await ready();
      client.emit('disconnected', reason);
      expect(lost.map((e) => e.code)).toEqual([code]);
    });

    it('detects a browser crash from the browser event, at once, and reports it once', async () => {
      await ready();
      await watched();
      client.pupBrowser!.crash();
      // Reported from the event itself (synchronously), not from a later probe.
      expect(lost.map((e) => e.code)).toEqual(['BROWSER_CRASHED']);
      client.pupPage!.emit('close');
      client.emit('disconnected', 'NAVIGATION');
      expect(lost).toHaveLength(1);
    });

    it('detects a renderer crash and a closed page from page events', async () => {
      await ready();
      await watched();
      client.pupPage!.emit('error', new Error('Page crashed!'));
      expect(lost).toHaveLength(1);
      make();
      await ready();
      await watched();
      client.pupPage!.closed = true;
      client.pupPage!.emit('close');
      expect(lost.map((e) => e.code)).toEqual(['SESSION_CLOSED']);
    });

    it('maps message_ack: 2 delivered, 3 and 4 read, -1 failed, 1 nothing', async () => {
      await ready();
      const msg = { id: { _serialized: 'wa-1' } };
      for (const ack of [1, 2, 3, 4, -1]) client.emit('message_ack', msg, ack);
      expect(acks.map((a) => a.status)).toEqual(['delivered', 'read', 'read', 'failed']);
    });
  });

  describe('sending', () => {
    it('sends text with sendSeen false, replies with quotedMessageId, and returns the WhatsApp id', async () => {
      await ready();
      const result = await driver.send(
        message('hi', { content: { text: 'hi', replyTo: 'true_x_ABC' } }),
      );
      expect(client.sendCalls[0]).toEqual({
        chatId: '15559876543@c.us',
        content: 'hi',
        options: { sendSeen: false, quotedMessageId: 'true_x_ABC' },
      });
      expect(result.waMessageId).toMatch(/^true_15559876543@c.us_/);
    });

    it('sends inline media with its caption', async () => {
      await ready();
      await driver.send(
        message('', {
          content: {
            media: {
              base64: Buffer.from('png!').toString('base64'),
              mimetype: 'image/png',
              filename: 'a.png',
              caption: 'look',
            },
          },
        }),
      );
      const call = client.sendCalls[0];
      expect(call.options).toMatchObject({ caption: 'look', sendSeen: false });
      expect(call.content).toMatchObject({
        mimetype: 'image/png',
        filename: 'a.png',
        data: Buffer.from('png!').toString('base64'),
      });
    });

    it('refuses to send while not ready (a session failure, no attempt used)', async () => {
      await driver.start();
      await expect(driver.send(message())).rejects.toMatchObject({
        code: 'SESSION_NOT_READY',
        failure: 'session',
      });
    });

    it.each(['undefined-but-sent', 'throw-serialise'] as const)(
      'when sendMessage %s for a message that did go out, finds it among sent messages (wwebjs#201857)',
      async (behaviour) => {
        await ready();
        client.sendBehaviour = behaviour;
        const result = await driver.send(message('went out'));
        expect(result.waMessageId).toBe(client.sentMessages[0].id._serialized);
        expect(client.sendCalls).toHaveLength(1);
      },
    );

    it('when the result is undefined and the message is not found, the outcome is unknown (never a blind resend)', async () => {
      await ready();
      client.sendBehaviour = 'undefined';
      await expect(driver.send(message())).rejects.toMatchObject({
        code: 'UNKNOWN_OUTCOME',
        failure: 'unknown_outcome',
      });
    });

    it('a browser crash during the send is an unknown outcome', async () => {
      await ready();
      client.sendBehaviour = 'crash';
      await expect(driver.send(message())).rejects.toMatchObject({
        code: 'SESSION_CLOSED',
        failure: 'unknown_outcome',
      });
    });

    it('reconciles: finds a message sent after the attempt began, by its body, and nothing else', async () => {
      await ready();
      const now = Math.floor(Date.now() / 1000);
      client.sentMessages.push(
        { id: { _serialized: 'old' }, body: 'same text', fromMe: true, timestamp: now - 3600 },
        { id: { _serialized: 'other' }, body: 'other text', fromMe: true, timestamp: now },
        {
          id: { _serialized: '15559876543@c.us-found' },
          body: 'same text',
          fromMe: true,
          timestamp: now,
        },
      );
      client.sentMessages[0].id._serialized = '15559876543@c.us-old';
      client.sentMessages[1].id._serialized = '15559876543@c.us-other';
      const found = await driver.findSent(
        message('same text', { attemptStartedAt: Date.now() - 2000 }),
      );
      expect(found?.waMessageId).toBe('15559876543@c.us-found');
      expect(await driver.findSent(message('never sent'))).toBeNull();
    });

    describe('reconciliation matches chat, content and time, never a claimed id (issue 8 #10)', () => {
      const now = () => Math.floor(Date.now() / 1000);
      const sentMsg = (
        id: string,
        extra: Partial<import('./wwebjs-client').WwebjsMessage> = {},
      ): import('./wwebjs-client').WwebjsMessage => ({
        id: { _serialized: `15559876543@c.us-${id}` },
        body: '',
        fromMe: true,
        timestamp: now(),
        ack: 1,
        ...extra,
      });
      const png = Buffer.from('png bytes').toString('base64');
      const pdf = Buffer.from('%PDF-1.4 a document').toString('base64');
      const sha = (b64: string) =>
        createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64');

      it('two identical texts to one chat: the id claimed by the other message is skipped', async () => {
        await ready();
        client.sentMessages.push(sentMsg('first', { body: 'same' }));
        const claimed = new Set(['15559876543@c.us-first']);
        const isClaimed = async (id: string) => claimed.has(id);
        expect(await driver.findSent(message('same'), { isClaimed })).toBeNull();
        client.sentMessages.push(sentMsg('second', { body: 'same' }));
        expect((await driver.findSent(message('same'), { isClaimed }))?.waMessageId).toBe(
          '15559876543@c.us-second',
        );
      });

      it('never claims an id this driver returned for another message', async () => {
        await ready();
        const first = await driver.send(message('twice', { messageId: 'msg_a' }));
        expect(await driver.findSent(message('twice', { messageId: 'msg_b' }))).toBeNull();
        expect((await driver.findSent(message('twice', { messageId: 'msg_a' })))?.waMessageId).toBe(
          first.waMessageId,
        );
      });

      it('finds a media message by its caption (and text in the caption place), not a text with that body', async () => {
        await ready();
        client.sentMessages.push(sentMsg('text', { body: 'look' }));
        const media = { base64: png, mimetype: 'image/png', caption: 'look' };
        expect(await driver.findSent(message('', { content: { media } }))).toBeNull();
        client.sentMessages.push(
          sentMsg('photo', {
            body: 'look',
            hasMedia: true,
            // WhatsApp Web re-encodes photos: another type and hash, still a match.
            _data: { mimetype: 'image/jpeg', size: 3, filehash: 'other' },
          }),
        );
        expect((await driver.findSent(message('', { content: { media } })))?.waMessageId).toBe(
          '15559876543@c.us-photo',
        );
        const textAsCaption = { text: 'look', media: { base64: png, mimetype: 'image/png' } };
        expect((await driver.findSent(message('', { content: textAsCaption })))?.waMessageId).toBe(
          '15559876543@c.us-photo',
        );
        expect(
          await driver.findSent(message('', { content: { media: { ...media, caption: 'no' } } })),
        ).toBeNull();
      });

      it('a file sent as it is must have the same type and hash', async () => {
        await ready();
        const doc = { base64: pdf, mimetype: 'application/pdf', caption: 'invoice' };
        client.sentMessages.push(
          sentMsg('other-doc', {
            body: 'invoice',
            hasMedia: true,
            _data: { mimetype: 'application/pdf', size: 5, filehash: sha(png) },
          }),
        );
        expect(await driver.findSent(message('', { content: { media: doc } }))).toBeNull();
        client.sentMessages.push(
          sentMsg('doc', {
            body: 'invoice',
            hasMedia: true,
            _data: { mimetype: 'application/pdf', filehash: sha(pdf) },
          }),
        );
        expect((await driver.findSent(message('', { content: { media: doc } })))?.waMessageId).toBe(
          '15559876543@c.us-doc',
        );
      });

      it('ignores messages from before the attempt and messages the server refused (ack -1)', async () => {
        await ready();
        client.sentMessages.push(
          sentMsg('old', { body: 'hello', timestamp: now() - 3600 }),
          sentMsg('refused', { body: 'hello', ack: -1 }),
        );
        expect(await driver.findSent(message('hello'))).toBeNull();
      });
    });

    describe('"sent" means the server has it: ack >= 1 (issue 8 #22, wwebjs#3692)', () => {
      it('send() resolves only once the server acks, even when sendMessage resolved first', async () => {
        await ready();
        client.ackBehaviour = 'never';
        let settled = false;
        const sending = driver.send(message('wait for it')).then((r) => {
          settled = true;
          return r;
        });
        await waitFor('the message in the local store', () => client.sentMessages.length === 1);
        await new Promise((r) => setImmediate(r));
        expect(settled).toBe(false);
        client.ack(client.sentMessages[0], 1);
        expect((await sending).waMessageId).toBe(client.sentMessages[0].id._serialized);
      });

      it('an ack that arrives before sendMessage resolves counts', async () => {
        await ready();
        client.ackBehaviour = 'before';
        const result = await driver.send(message('fast'));
        expect(result.waMessageId).toBe(client.sentMessages[0].id._serialized);
      });

      it('ack -1 rejects the send', async () => {
        await ready();
        client.ackBehaviour = 'error';
        await expect(driver.send(message('refused'))).rejects.toMatchObject({
          code: 'ACK_ERROR',
          failure: 'retryable',
        });
      });

      it('no ack within the bound is an unknown outcome (reconciled, never resent blind)', async () => {
        make({ serverAckTimeoutMs: 50 });
        await ready();
        client.ackBehaviour = 'never';
        await expect(driver.send(message('stuck'))).rejects.toMatchObject({
          failure: 'unknown_outcome',
        });
      });

      it('the session lost while waiting for the ack is an unknown outcome', async () => {
        await ready();
        client.ackBehaviour = 'never';
        await watched();
        const sending = driver.send(message('then crash'));
        // In the local store: the send now waits for the server's ack.
        await waitFor('the message in the local store', () => client.sentMessages.length === 1);
        client.pupBrowser!.crash();
        await expect(sending).rejects.toMatchObject({ failure: 'unknown_outcome' });
      });

      /**
       * A linked driver whose acks never come (a bound no test waits out, so only the driver
       * knowing its page changed can settle a send), and a send still in the page: sendMessage
       * answers when `answer()` is called.
       */
      async function sendInThePage(text: string, extra: Partial<OutgoingMessage> = {}) {
        let answer!: () => void;
        client.sendGate = new Promise((r) => (answer = r));
        const calls = client.sendCalls.length;
        const sending = driver.send(message(text, extra));
        await waitFor('sendMessage called', () => client.sendCalls.length === calls + 1);
        return { sending, answer };
      }

      const sessionClosed = { code: 'SESSION_CLOSED', failure: 'unknown_outcome' };

      it('a send whose sendMessage answers after the driver stopped is told at once, not after the ack bound', async () => {
        make({ serverAckTimeoutMs: 10 * 60_000 });
        await ready();
        client.ackBehaviour = 'never';
        const { sending, answer } = await sendInThePage('in the page when it stopped');
        await driver.stop();
        answer();
        await expect(sending).rejects.toMatchObject(sessionClosed);
      });

      it('a loss of any kind ends the waits for acks at once, as the session lost (SESSION_CLOSED)', async () => {
        make({ serverAckTimeoutMs: 10 * 60_000 });
        await ready();
        client.ackBehaviour = 'never';
        const { sending, answer } = await sendInThePage('in the page when it disconnected');
        // Not a crash code: the send path must still take it as the session lost, not a retry.
        client.emit('disconnected', 'NAVIGATION');
        expect(lost.map((e) => e.code)).toEqual(['DISCONNECTED']);
        answer();
        await expect(sending).rejects.toMatchObject(sessionClosed);
      });

      it('a reload ends the waits for acks of the old page, also of a send that answers after it', async () => {
        make({ serverAckTimeoutMs: 10 * 60_000 });
        await ready();
        client.ackBehaviour = 'never';
        const waiting = driver.send(message('sent before the reload'));
        await waitFor('the message in the local store', () => client.sentMessages.length === 1);
        // Its ack waiter is registered once sendMessage's answer is handled: a tick later.
        await new Promise((r) => setImmediate(r));
        const { sending: late, answer } = await sendInThePage('answered after the reload', {
          messageId: 'msg_2',
        });
        client.pupPage!.onReload = () => client.emit('ready');
        await driver.restartClient();
        answer();
        await expect(waiting).rejects.toMatchObject({ code: 'SESSION_CLOSED' });
        await expect(late).rejects.toMatchObject(sessionClosed);
      });

      it('findSent tells a message the server has (ack >= 1) from one pending in the local store (ack 0)', async () => {
        await ready();
        client.ackBehaviour = 'never';
        void driver.send(message('pending one')).catch(() => undefined);
        await waitFor('the message in the local store', () => client.sentMessages.length === 1);
        expect(await driver.findSent(message('pending one'))).toMatchObject({
          waMessageId: client.sentMessages[0].id._serialized,
          ack: 0,
          pending: true,
        });
        client.ack(client.sentMessages[0], 1);
        expect(await driver.findSent(message('pending one'))).toMatchObject({
          ack: 1,
          pending: false,
        });
      });
    });

    it('checks numbers with getNumberId and returns the canonical chat id', async () => {
      await ready();
      client.numbersOnWhatsApp.set('5511912345678', '551112345678@c.us');
      expect(await driver.checkNumber('5511912345678@c.us')).toEqual({
        chatId: '551112345678@c.us',
        onWhatsApp: true,
      });
      expect(await driver.checkNumber('15550001111@c.us')).toEqual({
        chatId: '15550001111@c.us',
        onWhatsApp: false,
      });
    });
  });

  describe('health and control', () => {
    it('probes the browser, the page and getState()', async () => {
      await ready();
      expect(await driver.probe()).toMatchObject({ state: 'CONNECTED' });
      client.state = 'TIMEOUT';
      expect((await driver.probe()).state).toBe('TIMEOUT');
      client.pupPage!.closed = true;
      await expect(driver.probe()).rejects.toMatchObject({ code: 'SESSION_CLOSED' });
      client.pupBrowser!.connected = false;
      await expect(driver.probe()).rejects.toMatchObject({ code: 'BROWSER_CRASHED' });
    });

    it('restarts the client in the same browser by reloading the page; a dead browser needs a relaunch', async () => {
      await ready();
      client.pupPage!.onReload = () => client.emit('ready');
      await driver.restartClient();
      expect(client.pupPage!.reloads).toBe(1);
      expect(states.slice(-2).map((s) => s.status)).toEqual(['starting', 'ready']);
      client.pupBrowser!.connected = false;
      await expect(driver.restartClient()).rejects.toMatchObject({ code: 'BROWSER_CRASHED' });
    });

    it('refuses a reload once it reported a loss: only a relaunch brings it back', async () => {
      await ready();
      client.emit('disconnected', 'NAVIGATION');
      await expect(driver.restartClient()).rejects.toMatchObject({ failure: 'session' });
      expect(client.pupPage!.reloads).toBe(0);
    });

    it('gives a pairing code as XXXX-XXXX while not linked', async () => {
      await driver.start();
      expect(await driver.requestPairingCode('+1 555 000 1111')).toBe('ABCD-EFGH');
    });

    it('stops: logs out when asked and always destroys the client', async () => {
      await ready();
      await driver.stop({ logout: true });
      expect(client.loggedOut).toBe(true);
      expect(client.destroyed).toBe(true);
      client.emit('disconnected', 'NAVIGATION');
      expect(lost).toEqual([]);
    });
  });

  describe('incoming messages (`message`, never `message_create`)', () => {
    const PDF = Buffer.from('%PDF-1.4 a small invoice');

    it('reports each received message once, though the Client emits message_create and message', async () => {
      await ready();
      client.receive({ from: '15551112222@c.us', body: 'hi' });
      expect(incoming.map((m) => m.text)).toEqual(['hi']);
    });

    it('does not turn our own sends (message_create, fromMe) into received messages', async () => {
      await ready();
      await driver.send(message('our own'));
      client.emit('message_create', client.sentMessages[0]);
      expect(incoming).toEqual([]);
    });

    it('skips status updates and system notices', async () => {
      await ready();
      client.receive({ from: 'status@broadcast', body: 'my holiday', author: '15551112222@c.us' });
      client.receive({ from: '15551112222@c.us', type: 'e2e_notification' });
      client.receive({ from: '15551112222@c.us', type: 'protocol' });
      expect(incoming).toEqual([]);
    });

    it('reports nothing once stopped', async () => {
      await ready();
      const c = client;
      await driver.stop();
      c.receive({ from: '15551112222@c.us', body: 'too late' });
      expect(incoming).toEqual([]);
    });

    it('refuses media larger than MEDIA_MAX_BYTES from its announced size, without downloading it', async () => {
      make({ media: { maxBytes: 10, timeoutMs: 1000, allowPrivate: true } });
      await ready();
      const msg = client.receive({
        from: '15551112222@c.us',
        media: { mimetype: 'application/pdf', data: PDF },
      });
      const download = jest.spyOn(msg, 'downloadMedia');
      const err = await rejection(driver.downloadIncomingMedia(msg.id._serialized));
      expect([err.code, err.failure]).toEqual(['MEDIA_TOO_LARGE', 'permanent']);
      expect(download).not.toHaveBeenCalled();
    });

    it('refuses downloaded bytes over MEDIA_MAX_BYTES when WhatsApp announced no size', async () => {
      make({ media: { maxBytes: 10, timeoutMs: 1000, allowPrivate: true } });
      await ready();
      const msg = client.receive({
        from: '15551112222@c.us',
        media: { mimetype: 'application/pdf', data: PDF },
      });
      delete msg._data!.size;
      const err = await rejection(driver.downloadIncomingMedia(msg.id._serialized));
      expect(err.code).toBe('MEDIA_TOO_LARGE');
    });

    it('says MEDIA_UNAVAILABLE when WhatsApp no longer has the media', async () => {
      await ready();
      const msg = client.receive({
        from: '15551112222@c.us',
        media: { mimetype: 'application/pdf', data: PDF, expired: true },
      });
      const err = await rejection(driver.downloadIncomingMedia(msg.id._serialized));
      expect([err.code, err.failure]).toEqual(['MEDIA_UNAVAILABLE', 'retryable']);
    });

    it('bounds a download that never ends by MEDIA_FETCH_TIMEOUT_MS', async () => {
      make({ media: { maxBytes: 1 << 20, timeoutMs: 50, allowPrivate: true } });
      await ready();
      const msg = client.receive({
        from: '15551112222@c.us',
        media: { mimetype: 'application/pdf', data: PDF },
      });
      msg.downloadMedia = () => new Promise(() => undefined);
      const err = await rejection(driver.downloadIncomingMedia(msg.id._serialized));
      expect(err.code).toBe('MEDIA_UNAVAILABLE');
      expect(err.message).toContain('within 50 ms');
    });

    it('reports a page that died under a download as a session failure', async () => {
      await ready();
      const msg = client.receive({
        from: '15551112222@c.us',
        media: { mimetype: 'application/pdf', data: PDF },
      });
      msg.downloadMedia = () =>
        Promise.reject(new Error('Protocol error (Runtime.callFunctionOn): Target closed.'));
      const err = await rejection(driver.downloadIncomingMedia(msg.id._serialized));
      expect(err.failure).toBe('session');
    });

    it('treats an id whatsapp-web.js cannot parse as an unknown message', async () => {
      await ready();
      const err = await rejection(driver.downloadIncomingMedia('not-an-id'));
      expect(err.code).toBe('INCOMING_MESSAGE_NOT_FOUND');
    });
  });
});
