import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { EventType } from '@app/core';
import {
  EventStreamClient,
  MAX_BUFFERED_BYTES,
  type CloseReason,
  type StreamFilter,
} from './event-stream-client';
import { PING_FRAME } from './sse-frames';

/** The part of a ServerResponse the client uses; `stuck` makes it a socket that takes nothing. */
class FakeResponse extends EventEmitter {
  frames: string[] = [];
  status = 0;
  writableLength = 0;
  destroyed = false;
  ended = false;
  stuck = false;

  writeHead(status: number) {
    this.status = status;
  }
  write(chunk: string): boolean {
    if (this.stuck) {
      this.writableLength += chunk.length;
      return false;
    }
    this.frames.push(chunk);
    return true;
  }
  end() {
    this.ended = true;
  }
  destroy() {
    this.destroyed = true;
  }
  unstick() {
    this.stuck = false;
    this.writableLength = 0;
    this.emit('drain');
  }
  /** Positions of the events written, in order. */
  get positions(): string[] {
    return this.frames.filter((f) => f.startsWith('id: ')).map((f) => f.slice(4, f.indexOf('\n')));
  }
}

function entry(position: string, session = 's1', type: EventType = 'message.status', size = 10) {
  return { position, session, type, frame: `id: ${position}\n${'x'.repeat(size)}\n\n` };
}

function setup(filter: StreamFilter = {}, cursor: string | null = null, heartbeatMs = 60000) {
  const res = new FakeResponse();
  const closes: CloseReason[] = [];
  const client = new EventStreamClient(
    res as unknown as ServerResponse,
    filter,
    cursor,
    heartbeatMs,
    (r) => closes.push(r),
  );
  client.start({ 'content-type': 'text/event-stream' });
  return { res, client, closes };
}

describe('EventStreamClient', () => {
  it('answers 200 with the retry hint first', () => {
    const { res, client } = setup();
    expect(res.status).toBe(200);
    expect(res.frames).toEqual(['retry: 3000\n\n']);
    client.close('shutdown');
  });

  it('holds live events during the replay, then writes those past the replay: no gap, no duplicate', () => {
    const { res, client } = setup({}, '1-0');
    // Live events arrive while the backlog is read; the replay overlaps them (2-0, 3-0).
    client.deliver(entry('2-0'));
    client.deliver(entry('3-0'));
    client.deliver(entry('4-0'));
    expect(res.positions).toEqual([]);
    for (const p of ['1-0', '2-0', '3-0']) client.replay(entry(p));
    expect(res.positions).toEqual(['2-0', '3-0']);
    client.goLive();
    client.deliver(entry('4-0'));
    client.deliver(entry('5-0'));
    expect(res.positions).toEqual(['2-0', '3-0', '4-0', '5-0']);
    client.close('shutdown');
    expect(res.ended).toBe(true);
  });

  it('filters by session and type, and still moves past what it filtered out', () => {
    const types = new Set<EventType>(['session.status']);
    const { res, client } = setup({ session: 'a', types }, '0-0');
    client.deliver(entry('2-0', 'a', 'session.status'));
    client.replay(entry('1-0', 'a', 'message.status'));
    client.replay(entry('2-0', 'b', 'session.status'));
    client.goLive();
    client.deliver(entry('3-0', 'a', 'session.status'));
    client.deliver(entry('4-0', 'b', 'session.status'));
    client.deliver(entry('5-0', 'a', 'message.received'));
    // 2-0 was replayed (filtered out): the held copy is not written either.
    expect(res.positions).toEqual(['3-0']);
    client.close('shutdown');
  });

  it('closes a live client whose socket falls behind the bound, without waiting for it', () => {
    const { res, client, closes } = setup();
    client.goLive();
    res.stuck = true;
    const big = Math.ceil(MAX_BUFFERED_BYTES / 4);
    for (let i = 1; i <= 3; i++) client.deliver(entry(`${i}-0`, 's1', 'message.status', big));
    expect(client.isClosed).toBe(false); // buffered, under the bound
    client.deliver(entry('4-0', 's1', 'message.status', big));
    client.deliver(entry('5-0', 's1', 'message.status', big));
    expect(client.isClosed).toBe(true);
    expect(res.destroyed).toBe(true);
    expect(closes).toEqual(['too-slow']);
  });

  it('closes a client whose held live events outgrow the bound during a long replay', () => {
    const { res, client, closes } = setup({}, '0-0');
    const big = Math.ceil(MAX_BUFFERED_BYTES / 3);
    for (let i = 1; i <= 4; i++) client.deliver(entry(`${i}-0`, 's1', 'message.status', big));
    expect(closes).toEqual(['backlog-too-large']);
    expect(res.destroyed).toBe(true);
  });

  it('lets the replay wait for the socket: drained() resolves on drain, or on close', async () => {
    const { res, client } = setup({}, '0-0');
    res.stuck = true;
    expect(client.replay(entry('1-0'))).toBe(false);
    const drained = client.drained();
    res.unstick();
    await drained;
    res.stuck = true;
    const waiting = client.drained();
    client.close('client-gone');
    await waiting;
    expect(res.listenerCount('drain')).toBe(0);
  });

  it('pings every heartbeat interval until closed', () => {
    jest.useFakeTimers();
    try {
      const { res, client } = setup({}, null, 1000);
      jest.advanceTimersByTime(2500);
      expect(res.frames.filter((f) => f === PING_FRAME)).toHaveLength(2);
      client.close('shutdown');
      jest.advanceTimersByTime(5000);
      expect(res.frames.filter((f) => f === PING_FRAME)).toHaveLength(2);
    } finally {
      jest.useRealTimers();
    }
  });
});
