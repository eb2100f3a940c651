import { SessionDriverError } from '../session.errors';
import { loadMedia } from '.';
import { mediaKind, mimetypeContradiction, mimetypeFromName, sniffMimetype } from './media-type';

/** A real 1x1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n');
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);

describe('mimetypeFromName (the mime table, with the types WhatsApp shows as media)', () => {
  it.each([
    ['photo.JPG', 'image/jpeg'],
    ['a.webp', 'image/webp'],
    ['clip.mp4', 'video/mp4'],
    ['clip.m4v', 'video/mp4'],
    ['voice.opus', 'audio/ogg'],
    ['voice.ogg', 'audio/ogg'],
    ['song.aac', 'audio/aac'],
    ['song.m4a', 'audio/mp4'],
    ['card.vcf', 'text/vcard'],
    ['report.pdf', 'application/pdf'],
    ['sheet.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  ])('%s is %s', (name, type) => {
    expect(mimetypeFromName(name)).toBe(type);
  });

  it.each([undefined, '', 'noextension', 'trailingdot.', 'x.nosuchextension'])(
    'knows no type for %p',
    (name) => {
      expect(mimetypeFromName(name)).toBeUndefined();
    },
  );
});

describe('sniffing inline media', () => {
  it('recognises formats by their bytes, and nothing in text or raw data', async () => {
    expect(await sniffMimetype(PNG)).toBe('image/png');
    expect(await sniffMimetype(PDF)).toBe('application/pdf');
    expect(await sniffMimetype(JPEG)).toBe('image/jpeg');
    expect(await sniffMimetype(Buffer.from('hello, plain text'))).toBeUndefined();
    expect(await sniffMimetype(Buffer.alloc(300, 7))).toBeUndefined();
  });

  it('sees audio and video as one kind, documents as another', () => {
    expect(mediaKind('audio/mp4')).toBe(mediaKind('video/mp4'));
    expect(mediaKind('application/ogg')).toBe('audio/video');
    expect(mediaKind('image/heic')).toBe('image');
    expect(mediaKind('application/zip')).toBe('document');
  });

  it('finds a contradiction only between kinds', async () => {
    expect(await mimetypeContradiction('application/pdf', PNG)).toMatch(
      /application\/pdf but the content is image\/png/,
    );
    expect(await mimetypeContradiction('image/png', PDF)).toMatch(/image\/png.*application\/pdf/);
    expect(await mimetypeContradiction('video/mp4', JPEG)).toBeDefined();
    // Same kind, a generic type, or bytes of no known format: kept as declared.
    expect(await mimetypeContradiction('image/jpeg', PNG)).toBeUndefined();
    expect(await mimetypeContradiction('application/octet-stream', PNG)).toBeUndefined();
    expect(await mimetypeContradiction('image/png', Buffer.from('no magic here'))).toBeUndefined();
    const svg = Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>');
    expect(await mimetypeContradiction('image/svg+xml', svg)).toBeUndefined();
  });

  it('makes loadMedia refuse inline media whose bytes contradict its mimetype (INVALID_MEDIA, permanent)', async () => {
    const refused = await loadMedia({ base64: PDF.toString('base64'), mimetype: 'image/png' }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(SessionDriverError);
    expect({
      code: (refused as SessionDriverError).code,
      failure: (refused as SessionDriverError).failure,
    }).toEqual({ code: 'INVALID_MEDIA', failure: 'permanent' });
    await expect(
      loadMedia({ base64: PNG.toString('base64'), mimetype: 'IMAGE/PNG' }),
    ).resolves.toMatchObject({ mimetype: 'image/png', size: PNG.length });
  });
});
