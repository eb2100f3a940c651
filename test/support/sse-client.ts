import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { waitFor } from './wait-for';

/** One event as an `EventSource` would dispatch it. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
  /** `performance.now()` in this process when the event was parsed. */
  receivedAt: number;
}

/**
 * A Server-Sent Events reader over plain node:http (what a browser's `EventSource` does, minus
 * reconnecting: tests reconnect on purpose, with the `Last-Event-ID` they choose).
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  retry: number | undefined;
  ended = false;
  private buffer = '';

  private constructor(
    private readonly req: ClientRequest,
    readonly res: IncomingMessage,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    const end = () => (this.ended = true);
    res.on('end', end);
    res.on('close', end);
    res.on('error', end);
  }

  /** Connects and resolves once the answer's headers are in (any status). */
  static open(
    baseUrl: string,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<SseClient> {
    const url = new URL(path, baseUrl);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { headers: { accept: 'text/event-stream', ...headers }, agent: false },
        (res) => resolve(new SseClient(req, res)),
      );
      req.on('error', reject);
      req.end();
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  /** The events other than `reset`, as {id, type, event JSON}. */
  get parsed(): { id?: string; event: string; json: any }[] {
    return this.events.map((e) => ({ id: e.id, event: e.event, json: JSON.parse(e.data) }));
  }

  async waitForEvents(count: number, timeoutMs = 15000): Promise<SseEvent[]> {
    await waitFor(
      `${count} events (have ${this.events.length})`,
      () => this.events.length >= count,
      timeoutMs,
      10,
    );
    return this.events;
  }

  async waitUntil(what: string, check: () => boolean, timeoutMs = 15000): Promise<void> {
    await waitFor(what, check, timeoutMs, 10);
  }

  close(): void {
    this.req.destroy();
    this.res.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    for (let end = this.buffer.indexOf('\n\n'); end >= 0; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.dispatch(block);
    }
  }

  private dispatch(block: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const i = line.indexOf(':');
      const name = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (name === 'id') id = value;
      else if (name === 'event') event = value;
      else if (name === 'data') data.push(value);
      else if (name === 'retry') this.retry = Number(value);
    }
    if (data.length > 0) {
      this.events.push({ id, event, data: data.join('\n'), receivedAt: performance.now() });
    }
  }
}
