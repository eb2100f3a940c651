import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { SessionDriverError } from '../session.errors';
import { loadMedia, type MediaLimits, type MediaLookup } from '.';
import { rejection } from '../../../../test/support/driver-rejection';

/**
 * loadMedia against a real HTTP server on 127.0.0.1. The server is loopback, so most tests pass
 * allowPrivate: true; the ones about the address check show what happens without it. Host
 * names are resolved with an injected lookup (no DNS, no internet here).
 */

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31) % 256)),
]);

/** What the server saw of one request. */
interface Seen {
  path: string;
  host: string | undefined;
  /** Body bytes the server handed to the socket (write returned or drained). */
  sent: number;
  /** Resolves when the response's connection closed, with whether the response had finished. */
  closed: Promise<{ finished: boolean; sent: number }>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

class TestServer {
  readonly requests: Seen[] = [];
  readonly sockets = new Set<Socket>();
  connections = 0;
  private readonly server: Server;
  private readonly routes = new Map<string, Handler>();

  constructor() {
    this.server = createServer((req, res) => {
      let markClosed!: (v: { finished: boolean; sent: number }) => void;
      const seen: Seen = {
        path: req.url ?? '',
        host: req.headers.host,
        sent: 0,
        closed: new Promise((resolve) => (markClosed = resolve)),
      };
      res.on('close', () => markClosed({ finished: res.writableFinished, sent: seen.sent }));
      this.requests.push(seen);
      const path = (req.url ?? '').split('?')[0];
      const handler =
        this.routes.get(path) ??
        [...this.routes].find(([p]) => p.endsWith('*') && path.startsWith(p.slice(0, -1)))?.[1];
      if (!handler) {
        res.writeHead(404).end('no route');
        return;
      }
      handler(req, res, seen);
    });
    this.server.on('connection', (socket: Socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  route(path: string, handler: Handler): this {
    this.routes.set(path, handler);
    return this;
  }

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path: string, host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Writes `total` bytes in `chunk`-sized pieces, respecting backpressure; never more than asked. */
function stream(res: ServerResponse, seen: Seen, total: number, chunk = 64 * 1024): void {
  const piece = Buffer.alloc(chunk, 0x61);
  const pump = () => {
    while (seen.sent < total && !res.destroyed) {
      const n = Math.min(chunk, total - seen.sent);
      seen.sent += n;
      if (!res.write(n === chunk ? piece : piece.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    if (seen.sent >= total && !res.destroyed) res.end();
  };
  pump();
}

function codeOf(err: SessionDriverError): { code: string; failure: string } {
  return { code: err.code, failure: err.failure };
}

/** Every host name resolves to 127.0.0.1 (where the server is), recording what was asked. */
function loopbackLookup(): jest.Mock<ReturnType<MediaLookup>, Parameters<MediaLookup>> {
  return jest.fn<ReturnType<MediaLookup>, Parameters<MediaLookup>>(async () => [
    { address: '127.0.0.1', family: 4 },
  ]);
}

const LOCAL: Partial<MediaLimits> = { allowPrivate: true, maxBytes: 1024 * 1024, timeoutMs: 5000 };

describe('loadMedia from a URL (local HTTP server)', () => {
  let server: TestServer;

  beforeEach(async () => {
    server = await new TestServer()
      .route('/files/photo.png', (_req, res) => {
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG.length });
        res.end(PNG);
      })
      .route('/files/notes.txt', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('hello, world');
      })
      .route('/files/*', (_req, res) => {
        // No Content-Type: the type comes from the extension.
        res.writeHead(200);
        res.end(PNG);
      })
      .route('/status/*', (req, res) => {
        res.writeHead(Number(req.url!.split('/')[2])).end('status');
      })
      .route('/empty', (_req, res) => {
        res.writeHead(200, { 'content-type': 'image/png' }).end();
      })
      .route('/hop/*', (req, res) => {
        // /hop/N redirects to /hop/N-1 (relative), /hop/0 to the photo (absolute).
        const n = Number(req.url!.split('/')[2]);
        const location =
          n > 0 ? `../hop/${n - 1}` : `http://127.0.0.1:${server.port}/files/photo.png`;
        res.writeHead(n % 2 ? 302 : 301, { location }).end();
      })
      .listen();
  });

  afterEach(async () => {
    await server.close();
  });

  it('loads a small file with its base64, Content-Type and file name', async () => {
    const media = await loadMedia({ url: server.url('/files/photo.png') }, LOCAL);
    expect(media).toEqual({
      mimetype: 'image/png',
      data: PNG.toString('base64'),
      filename: 'photo.png',
      size: PNG.length,
    });
    expect(Buffer.from(media.data, 'base64').equals(PNG)).toBe(true);
    expect(server.requests.map((r) => r.path)).toEqual(['/files/photo.png']);
  });

  it('drops Content-Type parameters, and falls back to the extension of the (decoded) path', async () => {
    await expect(loadMedia({ url: server.url('/files/notes.txt') }, LOCAL)).resolves.toMatchObject({
      mimetype: 'text/plain',
      filename: 'notes.txt',
      data: Buffer.from('hello, world').toString('base64'),
    });
    await expect(
      loadMedia({ url: server.url('/files/my%20report.pdf?token=x') }, LOCAL),
    ).resolves.toMatchObject({
      mimetype: 'application/pdf',
      filename: 'my report.pdf',
    });
  });

  it('keeps the mimetype and file name the message gave', async () => {
    await expect(
      loadMedia(
        { url: server.url('/files/photo.png'), mimetype: 'image/x-custom', filename: 'given.bin' },
        LOCAL,
      ),
    ).resolves.toMatchObject({ mimetype: 'image/x-custom', filename: 'given.bin' });
  });

  it('refuses 127.0.0.1 by default, without connecting, and allows it with allowPrivate', async () => {
    const url = server.url('/files/photo.png');
    const err = await rejection(loadMedia({ url }));
    expect(codeOf(err)).toEqual({ code: 'MEDIA_URL_FORBIDDEN', failure: 'permanent' });
    expect(server.connections).toBe(0);

    await expect(loadMedia({ url }, { allowPrivate: true })).resolves.toMatchObject({
      size: PNG.length,
    });
    expect(server.connections).toBe(1);
  });

  it('refuses a public-looking host that resolves to a private address, without connecting', async () => {
    for (const addresses of [['127.0.0.1'], ['93.184.216.34', '127.0.0.1'], ['::ffff:127.0.0.1']]) {
      const lookup = jest.fn(async () => addresses.map((address) => ({ address })));
      const err = await rejection(
        loadMedia({ url: server.url('/files/photo.png', 'cdn.example.com') }, { lookup }),
      );
      expect(codeOf(err)).toEqual({ code: 'MEDIA_URL_FORBIDDEN', failure: 'permanent' });
      expect(lookup).toHaveBeenCalledWith('cdn.example.com');
    }
    expect(server.connections).toBe(0);
  });

  it('connects to the checked address with the Host header of the URL (no second DNS lookup)', async () => {
    // A rebinding DNS: the first answer is checked, any later one would point elsewhere.
    const lookup = jest
      .fn<ReturnType<MediaLookup>, Parameters<MediaLookup>>()
      .mockResolvedValueOnce([{ address: '127.0.0.1', family: 4 }])
      .mockRejectedValue(new Error('a second lookup must not happen'));
    const media = await loadMedia(
      { url: server.url('/files/photo.png', 'media.rebind.test') },
      { ...LOCAL, lookup },
    );
    expect(media.size).toBe(PNG.length);
    expect(lookup).toHaveBeenCalledTimes(1);
    // The system resolver does not know media.rebind.test: the socket used the checked address.
    expect(server.requests.map((r) => r.host)).toEqual([`media.rebind.test:${server.port}`]);
  });

  it('follows up to 3 redirects, resolving and checking each hop', async () => {
    const lookup = loopbackLookup();
    const media = await loadMedia(
      { url: server.url('/hop/2', 'start.test') },
      { ...LOCAL, lookup },
    );
    // The file name is the one of the URL that served the content.
    expect(media).toMatchObject({
      mimetype: 'image/png',
      data: PNG.toString('base64'),
      filename: 'photo.png',
    });
    expect(server.requests.map((r) => [r.path, r.host])).toEqual([
      ['/hop/2', `start.test:${server.port}`],
      ['/hop/1', `start.test:${server.port}`],
      ['/hop/0', `start.test:${server.port}`],
      ['/files/photo.png', `127.0.0.1:${server.port}`],
    ]);
    expect(lookup.mock.calls).toEqual([['start.test'], ['start.test'], ['start.test']]);
  });

  it('refuses a 4th redirect without following it', async () => {
    const err = await rejection(loadMedia({ url: server.url('/hop/3') }, LOCAL));
    expect(codeOf(err)).toEqual({ code: 'MEDIA_UNAVAILABLE', failure: 'permanent' });
    expect(err.message).toMatch(/redirect/);
    expect(server.requests.map((r) => r.path)).toEqual(['/hop/3', '/hop/2', '/hop/1', '/hop/0']);
  });

  it('re-checks the address of every hop of a redirect', async () => {
    server.route('/to-host', (req, res) => {
      res.writeHead(302, { location: `http://next.test:${server.port}/files/photo.png` }).end();
    });
    // next.test has a loopback address (allowed here) and a multicast one (never allowed).
    const lookup = jest.fn(async (host: string) =>
      host === 'next.test'
        ? [{ address: '127.0.0.1' }, { address: '224.0.0.1' }]
        : [{ address: '127.0.0.1' }],
    );
    let err = await rejection(
      loadMedia({ url: server.url('/to-host', 'first.test') }, { ...LOCAL, lookup }),
    );
    expect(codeOf(err)).toEqual({ code: 'MEDIA_URL_FORBIDDEN', failure: 'permanent' });
    expect(lookup.mock.calls).toEqual([['first.test'], ['next.test']]);
    expect(server.requests.map((r) => r.path)).toEqual(['/to-host']);

    server.route('/to-unspecified', (_req, res) => {
      res.writeHead(307, { location: `http://0.0.0.0:${server.port}/files/photo.png` }).end();
    });
    err = await rejection(loadMedia({ url: server.url('/to-unspecified') }, LOCAL));
    expect(codeOf(err)).toEqual({ code: 'MEDIA_URL_FORBIDDEN', failure: 'permanent' });
    expect(server.requests.map((r) => r.path)).toEqual(['/to-host', '/to-unspecified']);
  });

  it.each(['ftp://127.0.0.1/a.png', 'file:///etc/passwd'])(
    'refuses a redirect to %s',
    async (location) => {
      server.route('/away', (_req, res) => {
        res.writeHead(302, { location }).end();
      });
      const err = await rejection(loadMedia({ url: server.url('/away') }, LOCAL));
      expect(codeOf(err)).toEqual({ code: 'INVALID_MEDIA', failure: 'permanent' });
    },
  );

  it.each(['ftp://127.0.0.1/a.png', 'file:///etc/passwd'])('refuses %s', async (url) => {
    const err = await rejection(loadMedia({ url }, LOCAL));
    expect(codeOf(err)).toEqual({ code: 'INVALID_MEDIA', failure: 'permanent' });
    expect(server.connections).toBe(0);
  });

  it.each([
    [404, 'permanent'],
    [410, 'permanent'],
    [400, 'permanent'],
    [401, 'permanent'],
    [403, 'permanent'],
    [429, 'retryable'],
    [500, 'retryable'],
    [502, 'retryable'],
    [503, 'retryable'],
  ])('maps HTTP %d to MEDIA_UNAVAILABLE %s', async (status, failure) => {
    const err = await rejection(loadMedia({ url: server.url(`/status/${status}`) }, LOCAL));
    expect(codeOf(err)).toEqual({ code: 'MEDIA_UNAVAILABLE', failure });
    expect(err.message).toContain(String(status));
  });

  it('refuses an empty body as INVALID_MEDIA', async () => {
    const err = await rejection(loadMedia({ url: server.url('/empty') }, LOCAL));
    expect(codeOf(err)).toEqual({ code: 'INVALID_MEDIA', failure: 'permanent' });
  });

  it('refuses a Content-Length over the limit at once, reading no more', async () => {
    let seen!: Seen;
    server.route('/declared-huge', (_req, res, s) => {
      seen = s;
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': 100 * 1024 * 1024 });
      // One piece, then nothing: only the header can make the client stop now.
      s.sent = 1024;
      res.write(Buffer.alloc(1024));
    });
    const err = await rejection(
      loadMedia({ url: server.url('/declared-huge') }, { ...LOCAL, timeoutMs: 15000 }),
    );
    expect(codeOf(err)).toEqual({ code: 'MEDIA_TOO_LARGE', failure: 'permanent' });
    const closed = await seen.closed;
    expect(closed).toEqual({ finished: false, sent: 1024 });
  });

  it('stops reading a streamed body (no Content-Length) as soon as it exceeds the limit', async () => {
    const total = 64 * 1024 * 1024;
    const maxBytes = 256 * 1024;
    let seen!: Seen;
    server.route('/endless', (_req, res, s) => {
      seen = s;
      res.writeHead(200, { 'content-type': 'video/mp4' }); // chunked: the size is not announced
      stream(res, s, total);
    });
    const err = await rejection(
      loadMedia({ url: server.url('/endless') }, { ...LOCAL, maxBytes, timeoutMs: 15000 }),
    );
    expect(codeOf(err)).toEqual({ code: 'MEDIA_TOO_LARGE', failure: 'permanent' });
    const closed = await seen.closed;
    // The client hung up: the server could not finish, and sent little more than the limit plus
    // what the socket buffers hold (a few MB on loopback), far from the 64 MB it had.
    expect(closed.finished).toBe(false);
    expect(closed.sent).toBeGreaterThan(maxBytes);
    expect(closed.sent).toBeLessThan(16 * 1024 * 1024);
  });

  it('takes a streamed body of exactly the limit', async () => {
    server.route('/exact', (_req, res, s) => {
      res.writeHead(200, { 'content-type': 'audio/ogg' });
      stream(res, s, 100 * 1024, 7000);
    });
    await expect(
      loadMedia({ url: server.url('/exact') }, { ...LOCAL, maxBytes: 100 * 1024 }),
    ).resolves.toMatchObject({
      size: 100 * 1024,
      mimetype: 'audio/ogg',
    });
  });

  it.each([
    ['/slow-head', 'answers nothing'],
    ['/slow-body', 'sends the headers and part of the body, then stalls'],
  ])(
    'gives up within timeoutMs on a server that %s (%s): MEDIA_UNAVAILABLE, retryable',
    async (path) => {
      let seen!: Seen;
      server.route('/slow-head', (_req, _res, s) => {
        seen = s;
      });
      server.route('/slow-body', (_req, res, s) => {
        seen = s;
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': 1000 });
        s.sent = 10;
        res.write(Buffer.alloc(10));
      });
      const timeoutMs = 300;
      const started = Date.now();
      const err = await rejection(loadMedia({ url: server.url(path) }, { ...LOCAL, timeoutMs }));
      const elapsed = Date.now() - started;
      expect(codeOf(err)).toEqual({ code: 'MEDIA_UNAVAILABLE', failure: 'retryable' });
      expect(err.message).toMatch(/300 ms/);
      expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 20);
      expect(elapsed).toBeLessThan(timeoutMs + 2000);
      // The connection is not left open behind the error.
      await expect(seen.closed).resolves.toMatchObject({ finished: false });
    },
  );

  it('treats a connection cut mid-body as retryable', async () => {
    server.route('/cut', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 1000 });
      res.write(Buffer.alloc(10), () => res.destroy());
    });
    const err = await rejection(loadMedia({ url: server.url('/cut') }, LOCAL));
    expect(codeOf(err)).toEqual({ code: 'MEDIA_UNAVAILABLE', failure: 'retryable' });
  });

  it('treats a refused connection as retryable', async () => {
    const gone = await new TestServer().listen();
    const url = gone.url('/files/photo.png');
    await gone.close();
    const err = await rejection(loadMedia({ url }, LOCAL));
    expect(codeOf(err)).toEqual({ code: 'MEDIA_UNAVAILABLE', failure: 'retryable' });
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('connects https to the checked address with the URL host as TLS SNI', async () => {
    // No certificate needed: the server records the name the client asked for in its
    // ClientHello and ends the handshake there.
    // Set before the server ends the handshake, so before the client sees its error.
    let sni: string | undefined;
    const tls = createTlsServer({
      SNICallback: (name, cb) => {
        sni = name;
        cb(new Error('no certificate here'));
      },
    });
    tls.on('tlsClientError', () => undefined);
    tls.listen(0, '127.0.0.1');
    await once(tls, 'listening');
    try {
      const { port } = tls.address() as AddressInfo;
      const lookup = jest
        .fn<ReturnType<MediaLookup>, Parameters<MediaLookup>>()
        .mockResolvedValueOnce([{ address: '127.0.0.1', family: 4 }])
        .mockRejectedValue(new Error('a second lookup must not happen'));
      const err = await rejection(
        loadMedia({ url: `https://secure.media.test:${port}/a.png` }, { ...LOCAL, lookup }),
      );
      // A TLS failure is a network error: retryable.
      expect(codeOf(err)).toEqual({ code: 'MEDIA_UNAVAILABLE', failure: 'retryable' });
      expect(sni).toBe('secure.media.test');
      expect(lookup).toHaveBeenCalledTimes(1);
    } finally {
      await new Promise<void>((resolve) => tls.close(() => resolve()));
    }
  });
});
