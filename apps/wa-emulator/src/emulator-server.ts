import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { EmulatorState } from './accounts';
import { WHATSAPP_WEB_HOST, type EmulatorCertificate } from './certificate';
import { handleControl } from './control-api';
import { EmulatorError } from './errors';
import { requestUrl, sendError, sendJson } from './http-util';
import { handleRpc, openLink } from './page-link';
import { MEDIA_PATH_PREFIX, serveMedia } from './emulator-media';

/**
 * The page files are served from the source tree (apps/wa-emulator/page), found by walking up
 * from this file: the same lookup works from src/ (tests) and from dist/ (npm run emulator), and
 * a changed page file needs no rebuild.
 */
export function findPageDir(from = __dirname): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'apps', 'wa-emulator', 'page');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  throw new Error(`apps/wa-emulator/page not found above ${from}`);
}

const PAGE_SCRIPT = /^\/emu\/([a-z][a-z0-9-]*\.js)$/;

/**
 * One port, three jobs: an HTTP proxy that lets only `CONNECT web.whatsapp.com:443` through (to an
 * in-process TLS server holding the emulator's certificate: the page, its RPCs and its link),
 * the control API (`/control/...`) and `/healthz`. Every other proxied host is refused, so a
 * browser pointed here never reaches the network.
 */
export class EmulatorServer {
  private readonly proxy: Server;
  private readonly web: ReturnType<typeof createHttpsServer>;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly state: EmulatorState,
    certificate: EmulatorCertificate,
    private readonly log: Logger,
    private readonly pageDir = findPageDir(),
  ) {
    this.web = createHttpsServer(
      { key: certificate.key, cert: certificate.cert },
      this.guarded((req, res) => this.servePage(req, res)),
    );
    this.proxy = createServer(this.guarded((req, res) => this.serveProxyPort(req, res)));
    this.proxy.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.tunnel(req, socket, head),
    );
    this.proxy.on('connection', (socket: Socket) => this.track(socket));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.proxy.once('error', reject);
      this.proxy.listen(port, host, () => resolve((this.proxy.address() as AddressInfo).port));
    });
  }

  async close(): Promise<void> {
    // SSE links and tunnels never end by themselves.
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.proxy.close(() => resolve()));
    this.web.close();
  }

  /**
   * Every request handler runs under this: whatever it throws (synchronously or not) is answered
   * `{error: {code, message}}` (an EmulatorError with its status; anything else is a bug of ours:
   * 500, logged) instead of becoming an unhandled rejection that ends the process.
   */
  private guarded(
    handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void,
  ): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      Promise.resolve()
        .then(() => handler(req, res))
        .catch((err: unknown) => {
          if (!(err instanceof EmulatorError))
            this.log.error({ err, method: req.method }, 'emulator request handler failed');
          sendError(res, err);
        });
    };
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private tunnel(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const [host, port] = (req.url ?? '').split(':');
    socket.on('error', () => socket.destroy());
    if (host !== WHATSAPP_WEB_HOST || (port ?? '443') !== '443') {
      this.log.debug({ target: req.url }, 'proxy refused');
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) socket.unshift(head);
    this.web.emit('connection', socket);
  }

  private async serveProxyPort(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (url.startsWith('/control/')) return handleControl(this.state, req, res);
    if (url === '/healthz') return sendJson(res, 200, { status: 'ok' });
    // A plain-http proxy request (absolute URL) or anything else: refused.
    sendJson(res, url.startsWith('/') ? 404 : 403, {
      error: {
        code: url.startsWith('/') ? 'not_found' : 'proxy_refused',
        message: 'not served here',
      },
    });
  }

  private async servePage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req, `https://${WHATSAPP_WEB_HOST}`);
    if (req.method === 'POST' && url.pathname === '/emu/rpc')
      return handleRpc(this.state, req, res);
    if (req.method === 'GET' && url.pathname === '/emu/link') return openLink(this.state, req, res);
    if (req.method === 'GET' && url.pathname.startsWith(MEDIA_PATH_PREFIX))
      return serveMedia(this.state, url, res);
    if (req.method === 'GET' && url.pathname === '/')
      return this.sendFile(res, 'index.html', 'text/html');
    if (url.pathname === '/favicon.ico') {
      // Chromium asks for it on every load; an empty answer keeps the page console clean.
      res.writeHead(204, { 'cache-control': 'no-store' });
      res.end();
      return;
    }
    const script = req.method === 'GET' ? PAGE_SCRIPT.exec(url.pathname) : null;
    if (script && existsSync(join(this.pageDir, script[1])))
      return this.sendFile(res, script[1], 'text/javascript');
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }

  private sendFile(res: ServerResponse, name: string, type: string): void {
    const body = readFileSync(join(this.pageDir, name));
    // Never cached: a browser profile outlives emulator versions.
    res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
    res.end(body);
  }
}
