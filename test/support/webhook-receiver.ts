import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got, as it arrived. */
export interface ReceivedWebhook {
  headers: IncomingMessage['headers'];
  body: string;
  /** When the whole request had arrived (ms since epoch, the test's clock). */
  at: number;
  /** The status it was answered with; null while held or when the connection died first. */
  answered: number | null;
}

/** How the receiver answers one request (a status and headers), or `hold` to never answer. */
export type ReceiverAnswer = { status: number; headers?: Record<string, string> } | 'hold';

/**
 * A real HTTP webhook receiver on 127.0.0.1: records every request (headers, raw body) and
 * answers as `answer` says at that moment. Can be stopped (connection refused) and started again
 * on the same port.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  answer: (req: ReceivedWebhook) => ReceiverAnswer = () => ({ status: 204 });
  private server: Server | null = null;
  private readonly held = new Set<ServerResponse>();
  port = 0;

  async start(port = this.port): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const entry: ReceivedWebhook = {
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
          answered: null,
        };
        this.received.push(entry);
        const answer = this.answer(entry);
        if (answer === 'hold') {
          this.held.add(res);
          res.on('close', () => this.held.delete(res));
          return;
        }
        entry.answered = answer.status;
        res.writeHead(answer.status, answer.headers).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening and drops every connection (held ones included): connection refused. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const res of this.held) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Requests held open so far (answer `hold`). */
  get heldCount(): number {
    return this.held.size;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }
}

/**
 * Standard Webhooks verification written from the specification, independent of the
 * `standardwebhooks` package: HMAC-SHA256 over `${id}.${timestamp}.${body}` with the key that is
 * the base64 after `whsec_`, compared with each `v1,` signature of the header.
 */
export function verifyStandardWebhook(secret: string, req: ReceivedWebhook): boolean {
  const id = String(req.headers['webhook-id'] ?? '');
  const timestamp = String(req.headers['webhook-timestamp'] ?? '');
  const header = String(req.headers['webhook-signature'] ?? '');
  if (!id || !/^\d+$/.test(timestamp) || !header) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${req.body}`).digest();
  return header.split(' ').some((sig) => {
    const [version, value] = sig.split(',');
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
