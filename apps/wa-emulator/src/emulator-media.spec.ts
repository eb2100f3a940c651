import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  EmulatorMediaError,
  checkedSendMedia,
  mediaPathOf,
  serveMedia,
  type MediaSource,
} from './emulator-media';

const pdf = Buffer.from('%PDF-1.4\n% a tiny file\n%%EOF\n');
const pdfHash = createHash('sha256').update(pdf).digest('base64');

describe('checkedSendMedia', () => {
  const good = {
    mimetype: 'application/pdf',
    filename: 'invoice.pdf',
    size: pdf.length,
    filehash: pdfHash,
    base64: pdf.toString('base64'),
  };

  it('keeps a file whose size and filehash are its own', () => {
    expect(checkedSendMedia(good)).toEqual(good);
  });

  it('leaves out a missing filename', () => {
    expect(checkedSendMedia({ ...good, filename: undefined })).not.toHaveProperty('filename');
  });

  it('refuses a filehash that is not the sha256 of the bytes', () => {
    const other = createHash('sha256').update('other').digest('base64');
    expect(() => checkedSendMedia({ ...good, filehash: other })).toThrow(/filehash/);
  });

  it('refuses a size that is not the byte count', () => {
    expect(() => checkedSendMedia({ ...good, size: pdf.length + 1 })).toThrow(/size/);
  });

  it.each([
    ['that is not base64', { ...good, base64: '***' }],
    ['that is empty', { ...good, base64: '' }],
    ['without a mimetype', { ...good, mimetype: undefined }],
    ['with a filename that is not a string', { ...good, filename: 3 }],
    ['that is not an object', 'a string'],
  ])('refuses media %s', (_what, media) => {
    expect(() => checkedSendMedia(media)).toThrow(EmulatorMediaError);
  });
});

describe('serveMedia', () => {
  const waMessageId = 'false_15550001111@c.us_ABC/+=';
  const state: MediaSource = {
    message: (id) =>
      ({
        [waMessageId]: {
          phone: '15557654321',
          media: { mimetype: 'application/pdf', base64: pdf.toString('base64') },
        },
        'false_15550001111@c.us_TEXT': { phone: '15557654321' },
      })[id],
    listDevices: () => [
      { deviceId: 'dev-mine', phone: '15557654321' },
      { deviceId: 'dev-other', phone: '15559999999' },
      { deviceId: 'dev-unlinked', phone: null },
    ],
  };
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) =>
      serveMedia(state, new URL(req.url ?? '/', 'http://x'), res),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("gives the account's device the bytes of a message's file, with its mimetype", async () => {
    const res = await fetch(`${base}${mediaPathOf(waMessageId)}?device=dev-mine`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(pdf);
  });

  it.each([
    ['another account', mediaPathOf(waMessageId), 'dev-other'],
    ['an unlinked device', mediaPathOf(waMessageId), 'dev-unlinked'],
    ['an unknown device', mediaPathOf(waMessageId), 'nobody'],
    ['a message without media', mediaPathOf('false_15550001111@c.us_TEXT'), 'dev-mine'],
    ['an unknown message', mediaPathOf('false_1@c.us_NONE'), 'dev-mine'],
  ])('answers 404 to %s', async (_what, path, device) => {
    const res = await fetch(`${base}${path}?device=${device}`);
    expect(res.status).toBe(404);
  });
});
