import type { ServerResponse } from 'node:http';
import type { EventType } from '@app/core';
import { PING_FRAME, retryFrame } from './sse-frames';
import type { StreamEntry } from './stream-entry';
import { comparePositions } from './stream-position';

/** How long `EventSource` waits before reconnecting after the stream ends. */
export const RECONNECT_AFTER_MS = 3000;

/**
 * Bytes a client may have waiting in its socket's user-space buffer (beyond what the kernel
 * holds) before it counts as too slow, and bytes of live events kept for it while its backlog
 * is replayed. Past either it is closed: it reconnects with its Last-Event-ID and resumes.
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/** What a client asked to see. */
export interface StreamFilter {
  session?: string;
  types?: ReadonlySet<EventType>;
}

/** Why a stream ended (logged, never sent). */
export type CloseReason = 'client-gone' | 'too-slow' | 'backlog-too-large' | 'shutdown' | 'error';

/** What the hub needs from a client: events to pass on, and a way to end it at shutdown. */
export interface HubSubscriber {
  /** Never waits and never throws for the client's sake: the hub serves everyone at once. */
  deliver(entry: StreamEntry): void;
  close(reason: CloseReason): void;
}

/**
 * One open `GET /api/events` response. It writes the retry hint, heartbeats and events; holds
 * live events back while its backlog is replayed (then drops those the replay already sent);
 * and closes itself when it cannot keep up, so nothing is buffered for it without limit.
 */
export class EventStreamClient implements HubSubscriber {
  private live = false;
  private pending: StreamEntry[] = [];
  private pendingBytes = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private closedBy: CloseReason | null = null;
  private signalClosed!: () => void;
  /** Resolves once the stream ended, whoever ended it. */
  readonly closed = new Promise<void>((resolve) => (this.signalClosed = resolve));

  /**
   * @param cursor the last position this client has seen (its Last-Event-ID), or null for a
   *   client that starts live: events at or before it are never written.
   */
  constructor(
    private readonly res: ServerResponse,
    private readonly filter: StreamFilter,
    private cursor: string | null,
    private readonly heartbeatMs: number,
    private readonly onClose: (reason: CloseReason) => void,
  ) {
    res.on('close', () => this.close('client-gone'));
  }

  get isClosed(): boolean {
    return this.closedBy !== null;
  }

  /** Status line and headers, then the retry hint; from now on a ping every `heartbeatMs`. */
  start(headers: Record<string, string | number | string[]>): void {
    if (this.isClosed) return;
    this.res.writeHead(200, headers);
    this.res.write(retryFrame(RECONNECT_AFTER_MS));
    this.heartbeat = setInterval(() => this.writeLive(PING_FRAME), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /** A frame that is not an event (the reset notice). */
  writeFrame(frame: string): void {
    if (!this.isClosed) this.res.write(frame);
  }

  deliver(entry: StreamEntry): void {
    if (this.isClosed) return;
    if (!this.live) {
      this.pending.push(entry);
      this.pendingBytes += entry.frame.length;
      if (this.pendingBytes > MAX_BUFFERED_BYTES) this.close('backlog-too-large');
      return;
    }
    if (this.admit(entry)) this.writeLive(entry.frame);
  }

  /**
   * One event of the backlog. Returns false when the socket's buffer is full: the caller waits
   * for {@link drained} before the next (a replay may wait; the live fan-out may not).
   */
  replay(entry: StreamEntry): boolean {
    if (this.isClosed || !this.admit(entry)) return true;
    return this.res.write(entry.frame);
  }

  /** The backlog is written: pass on the live events held back, then everything as it comes. */
  goLive(): void {
    const held = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.live = true;
    for (const entry of held) this.deliver(entry);
  }

  /** Resolves when the socket takes more, or the stream ended. */
  async drained(): Promise<void> {
    if (this.isClosed) return;
    let done!: () => void;
    const drain = new Promise<void>((resolve) => (done = resolve));
    this.res.once('drain', done);
    try {
      await Promise.race([drain, this.closed]);
    } finally {
      this.res.off('drain', done);
    }
  }

  close(reason: CloseReason): void {
    if (this.isClosed) return;
    this.closedBy = reason;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.pending = [];
    if (!this.res.destroyed) {
      // A client that cannot keep up is cut off at once (ending would wait for its buffer to
      // drain); one we let go (shutdown, an error) gets a clean end and reconnects.
      if (reason === 'too-slow' || reason === 'backlog-too-large') this.res.destroy();
      else this.res.end();
    }
    this.signalClosed();
    this.onClose(reason);
  }

  /**
   * Moves the cursor past an entry and says whether to write it: never one at or before the
   * cursor (already replayed, or before Last-Event-ID), and only what the filter asks for.
   */
  private admit(entry: StreamEntry): boolean {
    if (this.cursor !== null && comparePositions(entry.position, this.cursor) <= 0) return false;
    this.cursor = entry.position;
    if (this.filter.session !== undefined && entry.session !== this.filter.session) return false;
    return this.filter.types === undefined || this.filter.types.has(entry.type);
  }

  /** A live write: the fan-out cannot wait, so a socket this far behind is closed instead. */
  private writeLive(frame: string): void {
    if (this.isClosed) return;
    const flushed = this.res.write(frame);
    if (!flushed && this.res.writableLength > MAX_BUFFERED_BYTES) this.close('too-slow');
  }
}
