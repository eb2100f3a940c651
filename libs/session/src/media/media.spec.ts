import { classifyAddress, isAddressAllowed, parseIPv6, type AddressClass } from '@app/core';
import { filenameFromUrl } from './file-name';
import { base64DecodedSize } from './inline-media';
import { loadMedia, MEDIA_DEFAULTS, type MediaLookup } from '.';
import { pickMimetype } from './media-type';
import { rejection } from '../../../../test/support/driver-rejection';

/** A lookup that must not be called (a literal IP or a refused scheme needs no DNS). */
const noLookup: MediaLookup = () => Promise.reject(new Error('lookup must not be called'));

describe('classifyAddress', () => {
  const IPV4: [string, AddressClass][] = [
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['9.255.255.255', 'public'],
    ['10.0.0.0', 'private'],
    ['10.255.255.255', 'private'],
    ['11.0.0.0', 'public'],
    ['100.63.255.255', 'public'],
    ['100.64.0.0', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.128.0.0', 'public'],
    ['126.255.255.255', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['128.0.0.0', 'public'],
    ['169.254.0.1', 'link-local'],
    ['169.254.169.254', 'link-local'],
    ['169.255.0.1', 'public'],
    ['172.15.255.255', 'public'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.0', 'public'],
    ['192.0.2.10', 'reserved'],
    ['192.167.255.255', 'public'],
    ['192.168.0.1', 'private'],
    ['192.168.255.255', 'private'],
    ['192.169.0.0', 'public'],
    ['198.18.0.1', 'private'],
    ['198.19.255.255', 'private'],
    ['198.20.0.0', 'public'],
    ['203.0.113.7', 'reserved'],
    ['223.255.255.255', 'public'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
  ];

  const IPV6: [string, AddressClass][] = [
    ['::', 'unspecified'],
    ['0:0:0:0:0:0:0:0', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::2', 'reserved'],
    // IPv4-mapped, dotted and hex forms: classified as the IPv4 address they carry.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::FFFF:7F00:0001', 'loopback'],
    ['0:0:0:0:0:ffff:127.0.0.1', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:a01:203', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:100.64.0.1', 'cgnat'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:224.0.0.1', 'multicast'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:0:127.0.0.1', 'loopback'], // IPv4-translated
    ['::127.0.0.1', 'reserved'], // IPv4-compatible (deprecated)
    ['64:ff9b::10.0.0.1', 'private'], // NAT64
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['64:ff9b:1::1', 'private'],
    ['2002:7f00:1::', 'loopback'], // 6to4 of 127.0.0.1
    ['2002:a9fe:a9fe::1', 'link-local'], // 6to4 of 169.254.169.254
    ['2002:808:808::1', 'public'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fec0::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['ff05::1:3', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001::1', 'reserved'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['2606:4700:4700::1111', 'public'],
    ['2a00:1450:4001:82a::200e', 'public'],
    ['3ffe::1', 'public'],
  ];

  const INVALID = [
    '',
    'localhost',
    'example.com',
    '1.2.3',
    '256.1.1.1',
    '01.2.3.4',
    ':::1',
    '1::2::3',
    'gggg::1',
    '::ffff:1.2.3.256',
  ];

  it.each(IPV4)('IPv4 %s is %s', (ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls);
  });

  it.each(IPV6)('IPv6 %s is %s', (ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls);
  });

  it.each(INVALID)('%p is not an address', (text) => {
    expect(classifyAddress(text)).toBe('invalid');
  });

  it('parses IPv6 forms into their eight groups', () => {
    expect(parseIPv6('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6('1::')).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    expect(parseIPv6('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIPv6('1:2:3:4:5:6:7:8:9')).toBeNull();
    expect(parseIPv6('1.2.3.4')).toBeNull();
  });
});

describe('isAddressAllowed', () => {
  it.each([
    ['8.8.8.8', true, true],
    ['2606:4700:4700::1111', true, true],
    ['::ffff:8.8.8.8', true, true],
    ['127.0.0.1', false, true],
    ['::1', false, true],
    ['::ffff:127.0.0.1', false, true],
    ['10.0.0.1', false, true],
    ['172.20.0.5', false, true],
    ['192.168.1.10', false, true],
    ['100.100.100.100', false, true],
    ['169.254.169.254', false, true],
    ['fe80::1', false, true],
    ['fd00::1', false, true],
    // Never a media server, private or not.
    ['0.0.0.0', false, false],
    ['::', false, false],
    ['224.0.0.1', false, false],
    ['ff02::1', false, false],
    ['255.255.255.255', false, false],
    ['2001:db8::1', false, false],
    ['not-an-ip', false, false],
  ])('%s: refused=%p without allowPrivate, allowed=%p with it', (ip, strict, lenient) => {
    expect(isAddressAllowed(ip, false)).toBe(strict);
    expect(isAddressAllowed(ip, true)).toBe(lenient);
  });
});

describe('base64DecodedSize', () => {
  it.each([
    ['', 0],
    ['QQ==', 1],
    ['QQ', 1],
    ['QUI=', 2],
    ['QUI', 2],
    ['QUJD', 3],
    ['QUJDRA==', 4],
    ['-_-_', 3],
  ])('%p decodes to %d bytes', (text, size) => {
    expect(base64DecodedSize(text)).toBe(size);
    expect(Buffer.from(text, 'base64').length).toBe(size);
  });

  it.each(['Q', 'QUJDR', 'QQ=', 'Q===', 'QQ==QQ==', 'QU!D', 'QU D', 'QQ===', '=QQ='])(
    '%p is not base64',
    (text) => {
      expect(base64DecodedSize(text)).toBeNull();
    },
  );
});

describe('loadMedia with inline base64', () => {
  const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe, 0x00]);

  it('returns the content, its mimetype and its filename', async () => {
    const media = await loadMedia(
      { base64: bytes.toString('base64'), mimetype: 'image/png', filename: 'a.png', caption: 'hi' },
      { maxBytes: 1024 },
    );
    expect(media).toEqual({
      mimetype: 'image/png',
      data: bytes.toString('base64'),
      filename: 'a.png',
      size: bytes.length,
    });
  });

  it('accepts line-wrapped, base64url and unpadded text, and returns it canonical', async () => {
    const wrapped = bytes.toString('base64').replace(/(.{4})/g, '$1\r\n');
    await expect(loadMedia({ base64: wrapped, mimetype: 'image/png' }, {})).resolves.toMatchObject({
      data: bytes.toString('base64'),
    });
    const url = bytes.toString('base64url');
    expect(url).not.toContain('=');
    await expect(loadMedia({ base64: url, mimetype: 'image/png' }, {})).resolves.toMatchObject({
      data: bytes.toString('base64'),
      size: bytes.length,
    });
  });

  it('takes exactly maxBytes, and refuses one byte more as MEDIA_TOO_LARGE (permanent)', async () => {
    const limit = 3000;
    const exact = Buffer.alloc(limit, 7).toString('base64');
    await expect(
      loadMedia({ base64: exact, mimetype: 'application/pdf' }, { maxBytes: limit }),
    ).resolves.toMatchObject({
      size: limit,
    });
    const over = Buffer.alloc(limit + 1, 7).toString('base64');
    const err = await rejection(
      loadMedia({ base64: over, mimetype: 'application/pdf' }, { maxBytes: limit }),
    );
    expect({ code: err.code, failure: err.failure }).toEqual({
      code: 'MEDIA_TOO_LARGE',
      failure: 'permanent',
    });
  });

  it('measures the decoded size, not the length of the text', async () => {
    // 300 bytes are 400 characters: allowed under a 300-byte limit.
    const text = Buffer.alloc(300, 1).toString('base64');
    expect(text.length).toBe(400);
    await expect(
      loadMedia({ base64: text, mimetype: 'audio/ogg' }, { maxBytes: 300 }),
    ).resolves.toMatchObject({
      size: 300,
    });
  });

  it('defaults to a 16 MB limit', async () => {
    expect(MEDIA_DEFAULTS).toEqual({
      maxBytes: 16 * 1024 * 1024,
      timeoutMs: 30000,
      allowPrivate: false,
    });
    const over = Buffer.alloc(16 * 1024 * 1024 + 1).toString('base64');
    const err = await rejection(loadMedia({ base64: over, mimetype: 'video/mp4' }));
    expect(err.code).toBe('MEDIA_TOO_LARGE');
  });

  it('refuses huge invalid text as too large without decoding it', async () => {
    const err = await rejection(
      loadMedia({ base64: '!'.repeat(10000), mimetype: 'image/png' }, { maxBytes: 100 }),
    );
    expect({ code: err.code, failure: err.failure }).toEqual({
      code: 'MEDIA_TOO_LARGE',
      failure: 'permanent',
    });
  });

  it.each([
    ['not base64 at all!', 'image/png'],
    ['QUJDR', 'image/png'],
    ['QQ==QQ==', 'image/png'],
    ['', 'image/png'],
    ['   ', 'image/png'],
  ])('refuses base64 %p as INVALID_MEDIA (permanent)', async (base64, mimetype) => {
    const err = await rejection(loadMedia({ base64, mimetype }, { maxBytes: 1024 }));
    expect({ code: err.code, failure: err.failure }).toEqual({
      code: 'INVALID_MEDIA',
      failure: 'permanent',
    });
  });

  it.each([undefined, '', '  ', 'png', 'image/'])('requires a mimetype (%p)', async (mimetype) => {
    const err = await rejection(loadMedia({ base64: 'QUJD', mimetype }, { maxBytes: 1024 }));
    expect({ code: err.code, failure: err.failure }).toEqual({
      code: 'INVALID_MEDIA',
      failure: 'permanent',
    });
    expect(err.message).toMatch(/mimetype/);
  });

  it('needs exactly one of url and base64', async () => {
    for (const media of [
      {},
      { base64: 'QUJD', mimetype: 'text/plain', url: 'https://example.com/a' },
    ]) {
      const err = await rejection(loadMedia(media, { lookup: noLookup }));
      expect({ code: err.code, failure: err.failure }).toEqual({
        code: 'INVALID_MEDIA',
        failure: 'permanent',
      });
    }
  });
});

describe('loadMedia URL rules (refused before any connection)', () => {
  it.each([
    'ftp://example.com/a.png',
    'file:///etc/passwd',
    'data:image/png;base64,QUJD',
    'javascript:alert(1)',
    'gopher://example.com/',
    'not a url',
  ])('refuses %p as INVALID_MEDIA (permanent)', async (url) => {
    const lookup = jest.fn(noLookup);
    const err = await rejection(loadMedia({ url }, { allowPrivate: true, lookup }));
    expect({ code: err.code, failure: err.failure }).toEqual({
      code: 'INVALID_MEDIA',
      failure: 'permanent',
    });
    expect(lookup).not.toHaveBeenCalled();
  });

  it.each([
    'http://127.0.0.1/a.png',
    'http://127.1/a.png',
    'http://2130706433/a.png',
    'http://0x7f000001/a.png',
    'http://0177.0.0.1/a.png',
    'http://[::1]/a.png',
    'http://[::ffff:127.0.0.1]/a.png',
    'http://[::ffff:a9fe:a9fe]/latest/meta-data',
    'http://169.254.169.254/latest/meta-data',
    'https://10.1.2.3/a.png',
    'https://100.64.1.1/a.png',
    'https://[fd00::1]/a.png',
    'https://[fe80::1]/a.png',
    'http://0.0.0.0/a.png',
    'http://224.0.0.1/a.png',
  ])('refuses the literal address in %p as MEDIA_URL_FORBIDDEN (permanent)', async (url) => {
    const lookup = jest.fn(noLookup);
    const err = await rejection(loadMedia({ url }, { lookup }));
    expect({ code: err.code, failure: err.failure }).toEqual({
      code: 'MEDIA_URL_FORBIDDEN',
      failure: 'permanent',
    });
    expect(lookup).not.toHaveBeenCalled();
  });

  it.each([
    [['10.0.0.7']],
    [['93.184.216.34', '127.0.0.1']],
    [['2606:4700:4700::1111', 'fd00::5']],
    [['::ffff:127.0.0.1']],
    [['93.184.216.34', 'not-an-address']],
  ])('refuses a host that resolves to %p: every address is checked', async (addresses) => {
    const lookup = jest.fn<ReturnType<MediaLookup>, Parameters<MediaLookup>>(async () =>
      addresses.map((address) => ({ address })),
    );
    const err = await rejection(loadMedia({ url: 'https://cdn.example.com/a.png' }, { lookup }));
    expect({ code: err.code, failure: err.failure }).toEqual({
      code: 'MEDIA_URL_FORBIDDEN',
      failure: 'permanent',
    });
    expect(lookup).toHaveBeenCalledWith('cdn.example.com');
  });

  it('treats a DNS failure or an empty answer as retryable', async () => {
    const failing: MediaLookup = () =>
      Promise.reject(
        Object.assign(new Error('getaddrinfo EAI_AGAIN cdn.example.com'), { code: 'EAI_AGAIN' }),
      );
    let err = await rejection(
      loadMedia({ url: 'https://cdn.example.com/a.png' }, { lookup: failing }),
    );
    expect({ code: err.code, failure: err.failure }).toEqual({
      code: 'MEDIA_UNAVAILABLE',
      failure: 'retryable',
    });
    err = await rejection(
      loadMedia({ url: 'https://cdn.example.com/a.png' }, { lookup: async () => [] }),
    );
    expect({ code: err.code, failure: err.failure }).toEqual({
      code: 'MEDIA_UNAVAILABLE',
      failure: 'retryable',
    });
  });

  it('times out a DNS lookup that never answers', async () => {
    const err = await rejection(
      loadMedia(
        { url: 'https://cdn.example.com/a.png' },
        { timeoutMs: 50, lookup: () => new Promise(() => {}) },
      ),
    );
    expect({ code: err.code, failure: err.failure }).toEqual({
      code: 'MEDIA_UNAVAILABLE',
      failure: 'retryable',
    });
  });
});

describe('names and types', () => {
  it('takes the last path segment as the file name, decoded', () => {
    expect(filenameFromUrl(new URL('https://x.test/files/photo.jpg?sig=1#top'))).toBe('photo.jpg');
    expect(filenameFromUrl(new URL('https://x.test/files/my%20report.pdf'))).toBe('my report.pdf');
    expect(filenameFromUrl(new URL('https://x.test/files/dir/'))).toBe('dir');
    expect(filenameFromUrl(new URL('https://x.test/a%2F..%2Fb.txt'))).toBe('a_.._b.txt');
    expect(filenameFromUrl(new URL('https://x.test/bad%E0%A4%A'))).toBe('bad%E0%A4%A');
    expect(filenameFromUrl(new URL('https://x.test/'))).toBeUndefined();
  });

  it('prefers the Content-Type (without parameters), then the extension', () => {
    expect(pickMimetype('image/PNG; charset=binary', ['a.jpg'])).toBe('image/png');
    expect(pickMimetype(undefined, [undefined, 'a.JPG'])).toBe('image/jpeg');
    expect(pickMimetype('', ['report.pdf'])).toBe('application/pdf');
    expect(pickMimetype('nonsense', ['clip.mp4'])).toBe('video/mp4');
    // A generic type gives way to a known extension, and stays when there is none.
    expect(pickMimetype('application/octet-stream', ['voice.ogg'])).toBe('audio/ogg');
    expect(pickMimetype('application/octet-stream', ['blob'])).toBe('application/octet-stream');
    expect(pickMimetype(undefined, ['blob', undefined])).toBe('application/octet-stream');
  });
});
