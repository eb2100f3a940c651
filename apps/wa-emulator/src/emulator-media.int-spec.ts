import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client, MessageMedia, NoAuth, type Message } from 'whatsapp-web.js';
import { RedisKeys } from '@app/core';
import type { IncomingMessage } from '../../../libs/session/src/incoming';
import type { OutgoingMessage } from '../../../libs/session/src/session-driver';
import { chromiumArgs } from '../../../libs/session/src/drivers/wwebjs/browser/chromium-profile';
import { pidsUsingProfile } from '../../../libs/session/src/drivers/wwebjs/browser/process-tree';
import { WwebjsDriver } from '../../../libs/session/src/drivers/wwebjs/wwebjs.driver';
import type { RunningEmulator } from './index';
import { CHROMIUM, TempRoots, next, startTestEmulator, waitFor } from './testing/emulator-test-kit';

/**
 * Media through the emulator: the UNMODIFIED whatsapp-web.js Client on the real Chromium sends a
 * document, a photo and an audio file and downloads incoming media; then our WwebjsDriver does
 * the same through its own send(), findSent() and downloadIncomingMedia(). The emulator's send
 * RPC refuses a file whose size or filehash is not its own (checkedSendMedia), so a sent-log
 * entry proves the page sent the exact bytes.
 */
jest.setTimeout(90_000);

/** A "PDF" big enough to take several base64 chunks (the page encodes in 32 KB slices). */
const PDF = Buffer.concat([
  Buffer.from('%PDF-1.4\n'),
  randomBytes(200_000),
  Buffer.from('\n%%EOF\n'),
]);
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
/** A short 8 kHz mono 8-bit WAV tone. */
const WAV = (() => {
  const samples = Buffer.from(Array.from({ length: 800 }, (_, i) => (i % 16 < 8 ? 200 : 56)));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + samples.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write('data', 36);
  header.writeUInt32LE(samples.length, 40);
  return Buffer.concat([header, samples]);
})();

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('base64');

/** The fields of whatsapp-web.js's Message._data our reconciliation reads. */
interface MediaData {
  mimetype?: string;
  size?: number;
  filehash?: string;
  filename?: string;
}
const dataOf = (m: Message) => (m as unknown as { _data: MediaData })._data;

let emulator: RunningEmulator;
const temp = new TempRoots('wa-emulator-media-spec-');
const tempRoot = () => temp.make();

beforeAll(async () => {
  emulator = await startTestEmulator();
});

afterAll(async () => {
  await emulator?.close();
  temp.removeAll();
});

describe('media with the unmodified whatsapp-web.js Client', () => {
  const phone = '15551110000';
  let client: Client;
  let profileDir: string;

  beforeAll(async () => {
    profileDir = join(tempRoot(), 'profile');
    client = new Client({
      authStrategy: new NoAuth(),
      puppeteer: {
        executablePath: CHROMIUM,
        headless: true,
        args: [...emulator.chromiumArgs, '--no-sandbox'],
        userDataDir: profileDir,
      },
      webVersionCache: { type: 'none' },
    });
    client.once('qr', (qr: string) => void emulator.control.scan(qr, phone));
    const ready = next(client, 'ready');
    void client.initialize();
    await ready;
  });

  afterAll(async () => {
    await client?.destroy().catch(() => undefined);
    await waitFor(() => pidsUsingProfile(profileDir).length === 0 || undefined);
  });

  async function sentEntry(waMessageId: string) {
    return waitFor(async () =>
      (await emulator.control.sent({ phone })).find((s) => s.waMessageId === waMessageId),
    );
  }

  it.each([
    ['a document', 'application/pdf', PDF, 'invoice.pdf', 'your invoice', 'document'],
    ['a photo', 'image/png', PNG, 'dot.png', 'a dot', 'image'],
    ['an audio file', 'audio/wav', WAV, 'tone.wav', undefined, 'audio'],
  ])(
    'sends %s: a media Message, its file in the sent log, the same in chat.fetchMessages',
    async (_what, mimetype, file, filename, caption, type) => {
      const to = `1555222${String(file.length).slice(-4).padStart(4, '0')}@c.us`;
      const msg = await client.sendMessage(
        to,
        new MessageMedia(mimetype, file.toString('base64'), filename),
        { caption, sendSeen: false },
      );

      expect(msg.id._serialized).toMatch(new RegExp(`^true_${to}_3EB0[0-9A-F]{18}$`));
      expect(msg).toMatchObject({ hasMedia: true, type, body: caption ?? '', fromMe: true });
      const media = { mimetype, size: file.length, filehash: sha256(file), filename };
      expect(dataOf(msg)).toMatchObject(media);

      expect(await sentEntry(msg.id._serialized)).toMatchObject({
        to,
        type,
        body: caption ?? '',
        media,
      });

      const listed = await (await client.getChatById(to)).fetchMessages({ limit: 5, fromMe: true });
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ hasMedia: true, type, body: caption ?? '' });
      expect(listed[0].id._serialized).toBe(msg.id._serialized);
      expect(dataOf(listed[0])).toMatchObject(media);

      // The sender's own copy downloads from the page, byte for byte.
      const again = await listed[0].downloadMedia();
      expect(Buffer.from(again.data, 'base64').equals(file)).toBe(true);
      expect(again.mimetype).toBe(mimetype);
    },
  );

  it.each([
    ['a document with a caption', 'application/pdf', PDF, 'statement.pdf', 'March', 'document'],
    ['a photo without a caption', 'image/png', PNG, 'photo.png', undefined, 'image'],
  ])(
    'receives %s: `message` with hasMedia, and downloadMedia() gives the same file',
    async (_what, mimetype, file, filename, caption, type) => {
      const received = next<[Message]>(client, 'message');
      const { waMessageId } = await emulator.control.incoming(phone, {
        from: '15553330000',
        media: { mimetype, filename, base64: file.toString('base64'), caption },
      });
      const [msg] = await received;
      expect(msg.id._serialized).toBe(waMessageId);
      expect(msg).toMatchObject({ hasMedia: true, type, body: caption ?? '', fromMe: false });
      expect(dataOf(msg)).toMatchObject({ mimetype, filename, size: file.length });

      const media = await msg.downloadMedia();
      expect(media.mimetype).toBe(mimetype);
      expect(media.filename).toBe(filename);
      expect(Buffer.from(media.data, 'base64').equals(file)).toBe(true);
    },
  );
  it('a 5 MB file goes out and comes back whole (figures)', async () => {
    const big = randomBytes(5 * 1024 * 1024);
    const sentAt = Date.now();
    const msg = await client.sendMessage(
      '15552228888@c.us',
      new MessageMedia('application/zip', big.toString('base64'), 'big.zip'),
      { sendSeen: false },
    );
    const sendMs = Date.now() - sentAt;
    expect((await sentEntry(msg.id._serialized)).media).toMatchObject({
      size: big.length,
      filehash: sha256(big),
    });

    const received = next<[Message]>(client, 'message');
    await emulator.control.incoming(phone, {
      from: '15553338888',
      media: { mimetype: 'application/zip', filename: 'big.zip', base64: big.toString('base64') },
    });
    const [incoming] = await received;
    const downloadAt = Date.now();
    const media = await incoming.downloadMedia();
    const downloadMs = Date.now() - downloadAt;
    expect(Buffer.from(media.data, 'base64').equals(big)).toBe(true);
    console.info(`emulator media figures: 5 MB send ${sendMs} ms, 5 MB download ${downloadMs} ms`);
  });

  // Last in this block: it reloads the page.
  it('after the page reloads, sent media still lists with its file data and downloads from the server', async () => {
    const to = '15552229999@c.us';
    const msg = await client.sendMessage(
      to,
      new MessageMedia('application/pdf', PDF.toString('base64'), 'kept.pdf'),
      { caption: 'kept', sendSeen: false },
    );
    const deviceId = (await emulator.control.devices()).find((d) => d.phone === phone)!.deviceId;
    const readyAgain = next(client, 'ready');
    await emulator.control.reload(deviceId);
    await readyAgain;

    // The reloaded page holds no file: the listing comes from the server's history.
    const listed = await (await client.getChatById(to)).fetchMessages({ limit: 5, fromMe: true });
    expect(listed.map((m) => m.id._serialized)).toEqual([msg.id._serialized]);
    expect(listed[0]).toMatchObject({ hasMedia: true, type: 'document', body: 'kept' });
    expect(dataOf(listed[0])).toMatchObject({
      mimetype: 'application/pdf',
      size: PDF.length,
      filehash: sha256(PDF),
      filename: 'kept.pdf',
    });
    const media = await listed[0].downloadMedia();
    expect(Buffer.from(media.data, 'base64').equals(PDF)).toBe(true);
  });
});

describe('media through our WwebjsDriver', () => {
  const phone = '15554440000';
  const silent = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  };
  let driver: WwebjsDriver;
  let profileDir: string;
  const incoming: IncomingMessage[] = [];

  beforeAll(async () => {
    const dir = tempRoot();
    profileDir = join(dir, 'profile');
    driver = new WwebjsDriver(
      { sessionId: 'media', redis: null as never, keys: new RedisKeys('t'), logger: silent },
      {
        chromiumPath: CHROMIUM,
        chromiumArgs: [
          ...chromiumArgs({ runningAsRoot: process.getuid?.() === 0 }),
          ...emulator.chromiumArgs,
        ],
        profileDir,
        webVersionCacheDir: join(dir, '.wwebjs_cache'),
        authStrategy: () => new NoAuth(),
        media: { maxBytes: 1 << 20, timeoutMs: 10_000, allowPrivate: true },
        startTimeoutMs: 60_000,
        serverAckTimeoutMs: 4_000,
      },
    );
    let ready = false;
    driver.on('state', (s: { status: string; qr?: string }) => {
      if (s.status === 'qr' && s.qr) void emulator.control.scan(s.qr, phone);
      if (s.status === 'ready') ready = true;
    });
    driver.on('incoming', (m: IncomingMessage) => incoming.push(m));
    await driver.start();
    await waitFor(() => ready || undefined);
  });

  afterAll(async () => {
    await driver?.stop();
    await waitFor(() => pidsUsingProfile(profileDir).length === 0 || undefined);
  });

  it('sends a document with send(), and findSent() finds it by size and filehash', async () => {
    const chatId = '15555550000@c.us';
    const attemptStartedAt = Date.now();
    const message: OutgoingMessage = {
      messageId: 'm-media-1',
      chatId,
      content: {
        media: {
          base64: PDF.toString('base64'),
          mimetype: 'application/pdf',
          filename: 'invoice.pdf',
          caption: 'your invoice',
        },
      },
      contentHash: 'unused-here',
      attemptStartedAt,
    };
    const result = await driver.send(message);
    expect(result.waMessageId).toMatch(new RegExp(`^true_${chatId}_3EB0[0-9A-F]{18}$`));

    const entry = (await emulator.control.sent({ phone })).find(
      (s) => s.waMessageId === result.waMessageId,
    );
    expect(entry).toMatchObject({
      type: 'document',
      body: 'your invoice',
      media: {
        mimetype: 'application/pdf',
        filename: 'invoice.pdf',
        size: PDF.length,
        filehash: sha256(PDF),
      },
    });

    const found = await driver.findSent(message);
    expect(found).toMatchObject({ waMessageId: result.waMessageId, pending: false });

    // Another file with the same caption is not that message: size and filehash decide.
    const other = { ...message.content.media, base64: randomBytes(1000).toString('base64') };
    expect(await driver.findSent({ ...message, content: { media: other } })).toBeNull();
  });

  it('a send the server never acknowledges (fault no-server-ack) ends unknown_outcome; not in the sent log', async () => {
    await emulator.control.sendFault(phone, 'no-server-ack', 1);
    const before = (await emulator.control.sent({ phone })).length;
    const message: OutgoingMessage = {
      messageId: 'm-no-ack',
      chatId: '15555550001@c.us',
      content: { text: 'stays in the local store' },
      contentHash: 'unused-here',
      attemptStartedAt: Date.now(),
    };
    await expect(driver.send(message)).rejects.toMatchObject({ failure: 'unknown_outcome' });
    expect((await emulator.control.sent({ phone })).slice(before)).toEqual([]);
  });

  it('reports incoming media as metadata and downloads its bytes with downloadIncomingMedia()', async () => {
    const { waMessageId } = await emulator.control.incoming(phone, {
      from: '15556660000',
      media: {
        mimetype: 'application/pdf',
        filename: 'statement.pdf',
        base64: PDF.toString('base64'),
        caption: 'March',
      },
    });
    const report = await waitFor(() => incoming.find((m) => m.waMessageId === waMessageId));
    expect(report).toMatchObject({
      from: '15556660000',
      text: 'March',
      type: 'document',
      media: { mimetype: 'application/pdf', filename: 'statement.pdf', size: PDF.length },
    });

    const media = await driver.downloadIncomingMedia(waMessageId);
    expect(media.mimetype).toBe('application/pdf');
    expect(media.filename).toBe('statement.pdf');
    expect(media.data.equals(PDF)).toBe(true);
  });
});
