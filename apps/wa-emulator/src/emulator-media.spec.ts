import { createHash } from 'node:crypto';
import { EmulatorMediaError, incomingMediaPush, sentMediaRecord } from './emulator-media';

const pdf = Buffer.from('%PDF-1.4\n% a tiny file\n%%EOF\n');
const pdfHash = createHash('sha256').update(pdf).digest('base64');

describe('sentMediaRecord', () => {
  it('records the description of a file whose size and filehash are its own, never its bytes', () => {
    const record = sentMediaRecord({
      mimetype: 'application/pdf',
      filename: 'invoice.pdf',
      size: pdf.length,
      filehash: pdfHash,
      base64: pdf.toString('base64'),
    });
    expect(record).toEqual({
      mimetype: 'application/pdf',
      filename: 'invoice.pdf',
      size: pdf.length,
      filehash: pdfHash,
    });
  });

  it('refuses a filehash that is not the sha256 of the bytes', () => {
    const other = createHash('sha256').update('other').digest('base64');
    expect(() =>
      sentMediaRecord({
        mimetype: 'application/pdf',
        size: pdf.length,
        filehash: other,
        base64: pdf.toString('base64'),
      }),
    ).toThrow(/filehash/);
  });

  it('refuses a size that is not the byte count', () => {
    expect(() =>
      sentMediaRecord({
        mimetype: 'application/pdf',
        size: pdf.length + 1,
        filehash: pdfHash,
        base64: pdf.toString('base64'),
      }),
    ).toThrow(/size/);
  });

  it.each([
    ['not base64', { mimetype: 'application/pdf', base64: '***' }],
    ['empty', { mimetype: 'application/pdf', base64: '' }],
    ['no mimetype', { base64: pdf.toString('base64') }],
    ['not an object', 'a string'],
  ])('refuses media that is %s', (_what, media) => {
    expect(() => sentMediaRecord(media)).toThrow(EmulatorMediaError);
  });
});

describe('incomingMediaPush', () => {
  it('gives the file with its size and WhatsApp filehash, caption and filename', () => {
    expect(
      incomingMediaPush({
        mimetype: 'application/pdf',
        filename: 'invoice.pdf',
        caption: 'your invoice',
        base64: pdf.toString('base64'),
      }),
    ).toEqual({
      mimetype: 'application/pdf',
      filename: 'invoice.pdf',
      caption: 'your invoice',
      size: pdf.length,
      filehash: pdfHash,
      base64: pdf.toString('base64'),
    });
  });

  it('leaves filename and caption null when absent', () => {
    const push = incomingMediaPush({ mimetype: 'image/png', base64: pdf.toString('base64') });
    expect(push.filename).toBeNull();
    expect(push.caption).toBeNull();
  });

  it('refuses a caption that is not a string', () => {
    expect(() =>
      incomingMediaPush({ mimetype: 'image/png', base64: pdf.toString('base64'), caption: 3 }),
    ).toThrow(/caption/);
  });
});
