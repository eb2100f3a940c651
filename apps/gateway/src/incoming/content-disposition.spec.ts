import { attachmentDisposition, safeContentType } from './content-disposition';

describe('attachmentDisposition: a sender-chosen file name as a safe header', () => {
  it('gives a plain name in both forms', () => {
    expect(attachmentDisposition('invoice.pdf')).toBe(
      `attachment; filename="invoice.pdf"; filename*=UTF-8''invoice.pdf`,
    );
  });

  it('keeps a non-ASCII name exactly in filename*, with an ASCII stand-in in filename', () => {
    expect(attachmentDisposition('façade 1.jpg')).toBe(
      `attachment; filename="fa_ade 1.jpg"; filename*=UTF-8''fa%C3%A7ade%201.jpg`,
    );
  });

  it('cannot break out of the header or name a path', () => {
    const header = attachmentDisposition('../../etc/pa"ss\r\nX-Evil: 1;.txt');
    expect(header).not.toMatch(/[\r\n]/);
    expect(header).toMatch(
      /^attachment; filename="pa_ssX-Evil: 1_.txt"; filename\*=UTF-8''[^ ";]+$/,
    );
    expect(attachmentDisposition('..')).toContain('filename="media"');
    expect(attachmentDisposition('')).toContain('filename="media"');
  });
});

describe('safeContentType', () => {
  it('passes media types with parameters, and neutralises anything else', () => {
    expect(safeContentType('image/png')).toBe('image/png');
    expect(safeContentType('audio/ogg; codecs=opus')).toBe('audio/ogg; codecs=opus');
    expect(safeContentType('text/html\r\nX-Evil: 1')).toBe('application/octet-stream');
    expect(safeContentType('nonsense')).toBe('application/octet-stream');
  });
});
