import { join } from 'node:path';
import type { Client, Message } from 'whatsapp-web.js';
import {
  pidsUsingProfile,
  processTreeMemoryMb,
} from '../../../libs/session/src/drivers/wwebjs/browser/process-tree';
import type { RunningEmulator } from './index';
import {
  CHROMIUM,
  TempRoots,
  collect,
  destroyAndAssertGone,
  newClient as newClientOn,
  next,
  startTestEmulator,
  waitFor,
} from './testing/emulator-test-kit';

/**
 * The UNMODIFIED whatsapp-web.js Client on the real Chromium, pointed at the emulator by flags
 * only (no driver of ours): what it emits and returns is what a worker would see.
 */
jest.setTimeout(90_000);

const PHONE = '15550001111';

let emulator: RunningEmulator;
const temp = new TempRoots('wa-emulator-spec-');
const tempRoot = () => temp.make();
const newClient = (auth: { local: string } | { none: string }) => newClientOn(emulator, auth);

beforeAll(async () => {
  emulator = await startTestEmulator();
});

afterAll(async () => {
  await emulator?.close();
  temp.removeAll();
});

async function deviceOf(phone: string) {
  return (await emulator.control.devices()).find((d) => d.phone === phone);
}

describe('QR linking and messages (one linked browser)', () => {
  const phone = PHONE;
  let client: Client;
  let profileDir: string;
  /** Exceptions and console errors of the page: whatsapp-web.js breaks on any during inject. */
  const pageErrors: string[] = [];

  beforeAll(() => {
    ({ client, profileDir } = newClient({ none: join(tempRoot(), 'profile') }));
  });

  afterAll(async () => {
    await destroyAndAssertGone(client, profileDir);
  });

  it('emits a rotating qr, then authenticated and ready as the phone that scanned it', async () => {
    await emulator.control.settings({ qrRotateMs: 1000 });
    const qrs = collect<[string]>(client, 'qr');
    const startedAt = Date.now();
    void client.initialize();
    const page = await waitFor(() => client.pupPage ?? undefined);
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await waitFor(() => qrs.length >= 1 || undefined);
    const launchToQrMs = Date.now() - startedAt;
    // A second, different QR: the ref rotated.
    await waitFor(() => qrs.length >= 2 || undefined);
    await emulator.control.settings({ qrRotateMs: 20_000 });
    const [first, second] = qrs.map(([qr]) => qr);
    expect(first.split(',')).toHaveLength(5);
    expect(second.split(',')[0]).not.toBe(first.split(',')[0]);
    // A rotated-away ref is no longer accepted.
    await expect(emulator.control.scan(first, phone)).rejects.toMatchObject({ status: 404 });

    const authenticated = next(client, 'authenticated');
    const ready = next(client, 'ready');
    const scannedAt = Date.now();
    await emulator.control.scan(qrs[qrs.length - 1][0], phone, { pushname: 'Spec Phone' });
    await authenticated;
    await ready;
    const scanToReadyMs = Date.now() - scannedAt;

    expect(client.info.wid.user).toBe(phone);
    expect(client.info.pushname).toBe('Spec Phone');
    expect(await client.getState()).toBe('CONNECTED');
    const device = await deviceOf(phone);
    expect(device).toMatchObject({ state: 'CONNECTED', connected: true, qr: null });

    const browserPid = client.pupBrowser!.process()!.pid!;
    console.info(
      `emulator figures: launch->qr ${launchToQrMs} ms, scan->ready ${scanToReadyMs} ms, ` +
        `linked browser PSS ${processTreeMemoryMb(browserPid)} MB`,
    );
  });

  it('sends text: a Message at ack 0 with WhatsApp id true_<to>_3EB0..., then acks 1, 2, 3, in the sent log', async () => {
    const to = '15550002222@c.us';
    const acks = collect<[Message, number]>(client, 'message_ack');
    const msg = await client.sendMessage(to, 'hello from the spec');
    expect(msg.id._serialized).toMatch(/^true_15550002222@c\.us_3EB0[0-9A-F]{18}$/);
    expect(msg.fromMe).toBe(true);
    expect(msg.body).toBe('hello from the spec');
    // WhatsApp Web resolves the send once the message is in its local store, before the server
    // has it: the server's ack 1 comes as an event.
    expect(msg.ack).toBe(0);

    await waitFor(
      () => acks.filter(([m]) => m.id._serialized === msg.id._serialized).length >= 3 || undefined,
    );
    expect(
      acks.filter(([m]) => m.id._serialized === msg.id._serialized).map(([, ack]) => ack),
    ).toEqual([1, 2, 3]);

    const sent = await emulator.control.sent({ phone });
    expect(sent).toContainEqual(
      expect.objectContaining({
        waMessageId: msg.id._serialized,
        to,
        type: 'chat',
        body: 'hello from the spec',
        ack: 3,
      }),
    );

    const found = await client.getMessageById(msg.id._serialized);
    expect(found).toMatchObject({ body: 'hello from the spec', ack: 3, fromMe: true });
  });

  it('applies an ack the control API forces, -1 and lower ones too (message_ack fires)', async () => {
    const to = '15550002223@c.us';
    const acks = collect<[Message, number]>(client, 'message_ack');
    const msg = await client.sendMessage(to, 'acked by hand');
    const acksOf = () =>
      acks.filter(([m]) => m.id._serialized === msg.id._serialized).map(([, ack]) => ack);
    await waitFor(() => acksOf().includes(3) || undefined);
    await emulator.control.ack(phone, msg.id._serialized, 2);
    await emulator.control.ack(phone, msg.id._serialized, -1);
    await waitFor(() => acksOf().includes(-1) || undefined);
    expect(acksOf()).toEqual([1, 2, 3, 2, -1]);
    expect((await client.getMessageById(msg.id._serialized))?.ack).toBe(-1);
  });

  it('answers getNumberId with the canonical id, null for a number not on WhatsApp', async () => {
    await emulator.control.numbers({
      '5511999990000': { canonical: '551199990000' },
      '15550009999': { exists: false },
    });
    expect((await client.getNumberId('15550003333'))?._serialized).toBe('15550003333@c.us');
    expect((await client.getNumberId('5511999990000'))?._serialized).toBe('551199990000@c.us');
    expect(await client.getNumberId('15550009999')).toBeNull();
  });

  it('lists sent messages in chat.fetchMessages with ack, timestamp and body', async () => {
    const to = '15550004444@c.us';
    const a = await client.sendMessage(to, 'first');
    const b = await client.sendMessage(to, 'second');
    await waitFor(async () =>
      (await emulator.control.sent({ phone })).find(
        (s) => s.waMessageId === b.id._serialized && s.ack === 3,
      ),
    );
    const chat = await client.getChatById(to);
    const listed = await chat.fetchMessages({ limit: 10, fromMe: true });
    expect(listed.map((m) => m.id._serialized)).toEqual([a.id._serialized, b.id._serialized]);
    expect(listed.map((m) => m.body)).toEqual(['first', 'second']);
    for (const m of listed) {
      expect(m.ack).toBe(3);
      expect(typeof m.timestamp).toBe('number');
    }
  });

  it('delivers an incoming message as the Client `message` event', async () => {
    const received = next<[Message]>(client, 'message');
    const { waMessageId } = await emulator.control.incoming(phone, {
      from: '15550005555',
      body: 'hi there',
      pushname: 'Alice',
    });
    const [msg] = await received;
    expect(msg.id._serialized).toBe(waMessageId);
    expect(msg).toMatchObject({
      type: 'chat',
      from: '15550005555@c.us',
      body: 'hi there',
      fromMe: false,
    });
    expect((msg as unknown as { _data: { notifyName: string } })._data.notifyName).toBe('Alice');
    expect((await client.getMessageById(waMessageId))?.body).toBe('hi there');
    const contact = await client.getContactById('15550005555@c.us');
    expect(contact).toMatchObject({ pushname: 'Alice', number: '15550005555', isMe: false });
  });

  it('send fault `undefined`: sendMessage resolves undefined, the message is sent and listed', async () => {
    const to = '15550006666@c.us';
    await emulator.control.sendFault(phone, 'undefined', 1);
    const before = (await emulator.control.sent({ phone })).length;
    expect(await client.sendMessage(to, 'lost reply')).toBeUndefined();
    // sendMessage resolves once the message is in the page's store, before the server has it.
    const sent = await waitFor(async () => {
      const log = await emulator.control.sent({ phone });
      return log.length > before ? log : undefined;
    }, 'the message at the server');
    expect(sent).toHaveLength(before + 1);
    const entry = sent[sent.length - 1];
    expect(entry).toMatchObject({ to, body: 'lost reply' });
    await waitFor(async () =>
      (await emulator.control.sent({ phone })).find(
        (s) => s.waMessageId === entry.waMessageId && s.ack === 3,
      ),
    );
    const listed = await (await client.getChatById(to)).fetchMessages({ limit: 5, fromMe: true });
    expect(listed.map((m) => [m.id._serialized, m.body, m.ack])).toEqual([
      [entry.waMessageId, 'lost reply', 3],
    ]);
  });

  it('send fault `fail`: resolves at ack 0, then message_ack -1; not sent', async () => {
    const to = '15550007777@c.us';
    const before = (await emulator.control.sent({ phone })).length;
    const acks = collect<[Message, number]>(client, 'message_ack');
    await emulator.control.sendFault(phone, 'fail', 1);
    const failed = await client.sendMessage(to, 'fails');
    expect(failed).toMatchObject({ body: 'fails', ack: 0, fromMe: true });
    await waitFor(() => acks.find(([m]) => m.id._serialized === failed.id._serialized));
    expect(
      acks.filter(([m]) => m.id._serialized === failed.id._serialized).map(([, ack]) => ack),
    ).toEqual([-1]);
    expect((await client.getMessageById(failed.id._serialized))?.ack).toBe(-1);
    expect((await emulator.control.sent({ phone })).slice(before)).toEqual([]);
  });

  it('send fault `no-server-ack`: resolves at ack 0 and never gets an ack; not sent', async () => {
    const to = '15550007777@c.us';
    const before = (await emulator.control.sent({ phone })).length;
    const acks = collect<[Message, number]>(client, 'message_ack');
    await emulator.control.sendFault(phone, 'no-server-ack', 1);
    const unacked = await client.sendMessage(to, 'never reaches the server');
    expect(unacked).toMatchObject({ ack: 0, fromMe: true });
    // A later send is acked 1 by the server; the earlier one still has no ack at all.
    const later = await client.sendMessage(to, 'reaches the server');
    await waitFor(() =>
      acks.find(([m, ack]) => m.id._serialized === later.id._serialized && ack === 1),
    );
    expect(acks.filter(([m]) => m.id._serialized === unacked.id._serialized)).toEqual([]);
    expect((await client.getMessageById(unacked.id._serialized))?.ack).toBe(0);
    expect((await emulator.control.sent({ phone })).slice(before).map((s) => s.body)).toEqual([
      'reaches the server',
    ]);
  });

  it('send fault `hang`: sendMessage never settles and nothing is sent', async () => {
    const to = '15550007777@c.us';
    const before = (await emulator.control.sent({ phone })).length;
    await emulator.control.sendFault(phone, 'hang', 1);
    let settled = false;
    void client.sendMessage(to, 'hangs').then(
      () => (settled = true),
      () => (settled = true),
    );
    // The next send goes through (and is acked) while the hung one is still pending.
    const acks = collect<[Message, number]>(client, 'message_ack');
    const ok = await client.sendMessage(to, 'after the hang');
    expect(ok.body).toBe('after the hang');
    await waitFor(() =>
      acks.find(([m, ack]) => m.id._serialized === ok.id._serialized && ack === 1),
    );
    expect(settled).toBe(false);
    const bodies = (await emulator.control.sent({ phone })).slice(before).map((s) => s.body);
    expect(bodies).toEqual(['after the hang']);
  });

  it('ran without a page exception or console error', () => {
    expect(pageErrors).toEqual([]);
  });
});

/** The emulator's device behind a QR whatsapp-web.js emitted. */
async function deviceIdOfQr(qr: string): Promise<string> {
  const ref = qr.split(',')[0];
  const device = (await emulator.control.devices()).find((d) => d.qr === ref);
  if (!device) throw new Error('no device shows this QR');
  return device.deviceId;
}

/** Starts `client` and links it at its first QR through the control API (no scan). */
async function linkDirectly(client: Client, phone: string): Promise<string> {
  const firstQr = next<[string]>(client, 'qr');
  const ready = next(client, 'ready');
  void client.initialize();
  const [qr] = await firstQr;
  const deviceId = await deviceIdOfQr(qr);
  await emulator.control.link(deviceId, phone);
  await ready;
  return deviceId;
}

describe('a LocalAuth profile: pairing code, restart without QR, unlink, unpaired', () => {
  const phone = '15550011111';
  let dataPath: string;
  let client: Client;
  let profileDir: string;

  beforeAll(() => {
    dataPath = join(tempRoot(), 'auth');
  });

  afterAll(async () => {
    await destroyAndAssertGone(client, profileDir);
  });

  it('links with a pairing code the Client requested', async () => {
    ({ client, profileDir } = newClient({ local: dataPath }));
    const firstQr = next(client, 'qr');
    void client.initialize();
    await firstQr;
    const code = await client.requestPairingCode(phone);
    expect(code).toMatch(/^[A-Z0-9]{8}$/);
    const ready = next(client, 'ready');
    await expect(emulator.control.pairing(code)).resolves.toMatchObject({ phone });
    await ready;
    expect(client.info.wid.user).toBe(phone);
  });

  it('restarts on the same profile to ready with no QR', async () => {
    await destroyAndAssertGone(client, profileDir);
    ({ client, profileDir } = newClient({ local: dataPath }));
    const qrs = collect(client, 'qr');
    const ready = next(client, 'ready');
    void client.initialize();
    await ready;
    expect(qrs).toEqual([]);
    expect(client.info.wid.user).toBe(phone);
    expect(await client.getState()).toBe('CONNECTED');
  });

  it('the phone unlinking the device: disconnected LOGOUT, then a new QR', async () => {
    const disconnected = next<[string]>(client, 'disconnected');
    const qr = next<[string]>(client, 'qr');
    await emulator.control.unlink(phone);
    expect(await disconnected).toEqual(['LOGOUT']);
    const [newQr] = await qr;
    expect(await deviceOf(phone)).toBeUndefined();

    // The same Client links again from that QR (whatsapp-web.js re-injected after post_logout).
    const ready = next(client, 'ready');
    await emulator.control.scan(newQr, phone);
    await ready;
    expect(client.info.wid.user).toBe(phone);
  });

  it('state UNPAIRED: disconnected UNPAIRED', async () => {
    const disconnected = next<[string]>(client, 'disconnected');
    const device = await deviceOf(phone);
    await emulator.control.setState(device!.deviceId, 'UNPAIRED');
    expect(await disconnected).toEqual(['UNPAIRED']);
  });
});

describe('a linked page: reload, conflict, freeze, logout', () => {
  it('reload: the page navigates by itself and the Client is ready again, acks of earlier sends still fire; CONFLICT disconnects', async () => {
    const phone = '15550022222';
    const { client, profileDir } = newClient({ none: join(tempRoot(), 'profile') });
    try {
      const deviceId = await linkDirectly(client, phone);
      const readyAgain = next(client, 'ready');
      await emulator.control.reload(deviceId);
      await readyAgain;
      expect(await client.getState()).toBe('CONNECTED');
      const msg = await client.sendMessage('15550020000@c.us', 'after reload');
      // sendMessage resolves once the message is in the page's store, before the server has it.
      const atServer = await waitFor(async () => {
        const log = await emulator.control.sent({ phone });
        return log.length > 0 ? log : undefined;
      }, 'the message at the server');
      expect(atServer.map((s) => s.waMessageId)).toEqual([msg.id._serialized]);

      // A message sent before a reload is in the reloaded page's store: its acks still fire.
      await waitFor(async () => (await emulator.control.sent({ phone })).find((s) => s.ack === 3));
      const readyOnceMore = next(client, 'ready');
      await emulator.control.reload(deviceId);
      await readyOnceMore;
      const acks = collect<[Message, number]>(client, 'message_ack');
      await emulator.control.ack(phone, msg.id._serialized, 2);
      // The read ack (3) may come first: one the old page had not confirmed when it reloaded is
      // pushed again to the new one (redeliverAcks), which is the point too.
      await waitFor(() =>
        acks.find(([m, ack]) => m.id._serialized === msg.id._serialized && ack === 2),
      );
      expect(acks.map(([m]) => m.id._serialized)).toEqual(acks.map(() => msg.id._serialized));

      const disconnected = next<[string]>(client, 'disconnected');
      await emulator.control.setState(deviceId, 'CONFLICT');
      expect(await disconnected).toEqual(['CONFLICT']);
    } finally {
      await destroyAndAssertGone(client, profileDir);
    }
  });

  it('freeze: a page.evaluate no longer answers', async () => {
    const { client, profileDir } = newClient({ none: join(tempRoot(), 'profile') });
    try {
      const deviceId = await linkDirectly(client, '15550033333');
      // One evaluate, raced against 3 s: the control shows it answers well within that on a
      // live page, so a 'no answer' after the freeze is the freeze, not a slow machine.
      const answers = () =>
        Promise.race([
          client.pupPage!.evaluate(() => 'answered'),
          new Promise((r) => setTimeout(() => r('no answer'), 3000)),
        ]);
      expect(await answers()).toBe('answered');
      await emulator.control.freeze(deviceId);
      // The freeze push reaches the page over its link, so an evaluate may still slip in before
      // it lands: wait for the first one left unanswered, then a fresh one must not answer either.
      await waitFor(
        async () => (await answers()) === 'no answer' || undefined,
        'the page to freeze',
      );
      expect(await answers()).toBe('no answer');
    } finally {
      await destroyAndAssertGone(client, profileDir);
    }
  });

  it('client.logout(): the emulator forgets the device, the browser is closed', async () => {
    const phone = '15550044444';
    const { client, profileDir } = newClient({ none: join(tempRoot(), 'profile') });
    try {
      const deviceId = await linkDirectly(client, phone);
      await client.logout();
      expect((await emulator.control.devices()).map((d) => d.deviceId)).not.toContain(deviceId);
      expect(await deviceOf(phone)).toBeUndefined();
      expect(client.pupBrowser!.isConnected()).toBe(false);
    } finally {
      await destroyAndAssertGone(client, profileDir);
    }
  });
});

describe('an incoming message to a page whose browser dies before whatsapp-web.js listens', () => {
  it('is pushed again to the next page of the account and emitted there', async () => {
    const phone = '15550055555';
    const profile = join(tempRoot(), 'profile');
    const first = newClient({ none: profile });
    await linkDirectly(first.client, phone);
    await destroyAndAssertGone(first.client, first.profileDir);

    // The same profile in a bare browser: the page links (CONNECTED) but nobody listens to Msg.
    const puppeteer = (await import('puppeteer')).default;
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      args: [...emulator.chromiumArgs, '--no-sandbox'],
    });
    const page = (await browser.pages())[0] ?? (await browser.newPage());
    await page.goto('https://web.whatsapp.com/');
    await page.waitForFunction(() => (globalThis as unknown as { Debug?: unknown }).Debug);
    await page.evaluate(() => {
      const w = globalThis as unknown as {
        __emu: { onPush(type: string, fn: (p: { msg: { waMessageId: string } }) => void): void };
        pushed: Promise<string>;
      };
      w.pushed = new Promise((resolve) =>
        w.__emu.onPush('incoming', ({ msg }) => resolve(msg.waMessageId)),
      );
    });
    const { waMessageId } = await emulator.control.incoming(phone, {
      from: '15550056666',
      body: 'sent while nobody listened',
    });
    // The page got it over its link; then its browser dies before confirming it.
    expect(
      await page.evaluate(() => (globalThis as unknown as { pushed: Promise<string> }).pushed),
    ).toBe(waMessageId);
    browser.process()!.kill('SIGKILL');
    await waitFor(() => pidsUsingProfile(profile).length === 0 || undefined);

    const second = newClient({ none: profile });
    const messages = collect<[Message]>(second.client, 'message');
    try {
      const ready = next(second.client, 'ready');
      void second.client.initialize();
      await ready;
      const [msg] = await waitFor(() => messages.find(([m]) => m.id._serialized === waMessageId));
      expect(msg.body).toBe('sent while nobody listened');
      expect(messages).toHaveLength(1);
    } finally {
      await destroyAndAssertGone(second.client, second.profileDir);
    }
  });
});

describe('the proxy', () => {
  it('tunnels web.whatsapp.com:443 only; every other host is refused', async () => {
    const net = await import('node:net');
    const connect = (target: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(emulator.port, '127.0.0.1', () =>
          socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
        );
        socket.once('data', (d) => {
          resolve(d.toString().split('\r\n')[0]);
          socket.destroy();
        });
        socket.once('error', reject);
      });
    expect(await connect('web.whatsapp.com:443')).toMatch(/^HTTP\/1\.1 200/);
    expect(await connect('example.com:443')).toMatch(/^HTTP\/1\.1 403/);
    expect(await connect('web.whatsapp.com:80')).toMatch(/^HTTP\/1\.1 403/);
  });
});
