import { connect } from 'node:net';
import pino from 'pino';
import { startEmulator, type RunningEmulator } from './index';
import { MAX_BODY_BYTES } from './http-util';
import { controlRequest } from './testing/page-request';

/** The control API refuses malformed input with 400 (or 413) and changes nothing. */
describe('control API input', () => {
  let emulator: RunningEmulator;

  beforeAll(async () => {
    emulator = await startEmulator({ logger: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    await emulator?.close();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await controlRequest(
      emulator.port,
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
    );
    return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
  };

  it.each([
    ['incoming from a number', 'POST', '/control/accounts/111/incoming', { from: 123 }],
    ['incoming from words', 'POST', '/control/accounts/111/incoming', { from: 'alice' }],
    [
      'incoming body not a string',
      'POST',
      '/control/accounts/111/incoming',
      { from: '2', body: 5 },
    ],
    ['incoming id with a _', 'POST', '/control/accounts/111/incoming', { from: '2', id: 'a_b' }],
    [
      'incoming media without base64',
      'POST',
      '/control/accounts/111/incoming',
      { from: '2', media: { mimetype: 'image/png' } },
    ],
    [
      'incoming media not base64',
      'POST',
      '/control/accounts/111/incoming',
      { from: '2', media: { mimetype: 'image/png', base64: '***' } },
    ],
    [
      'incoming to a phone that is not digits',
      'POST',
      '/control/accounts/abc/incoming',
      { from: '2' },
    ],
    ['numbers null', 'PUT', '/control/numbers', { '1': null }],
    ['numbers a string', 'PUT', '/control/numbers', { '1': 'x' }],
    ['numbers canonical a number', 'PUT', '/control/numbers', { '1': { canonical: 5 } }],
    ['numbers key not digits', 'PUT', '/control/numbers', { abc: { exists: false } }],
    ['settings qrRotateMs 999', 'PUT', '/control/settings', { qrRotateMs: 999 }],
    ['settings a string', 'PUT', '/control/settings', { readAfterMs: '5' }],
    ['settings unknown', 'PUT', '/control/settings', { speed: 1 }],
    ['ack as a string', 'POST', '/control/accounts/111/ack', { waMessageId: 'x', ack: '2' }],
    [
      'send-fault count as a string',
      'PUT',
      '/control/accounts/111/send-fault',
      { mode: 'fail', count: '2' },
    ],
    [
      'send-fault on a phone not digits',
      'PUT',
      '/control/accounts/abc/send-fault',
      { mode: 'fail' },
    ],
    ['unlink a phone not digits', 'POST', '/control/accounts/abc/unlink', {}],
    ['scan with a phone number', 'POST', '/control/scan', { qr: 'r', phone: 111 }],
    ['scan with takeover "yes"', 'POST', '/control/scan', { qr: 'r', phone: '1', takeover: 'yes' }],
    ['state lower case', 'POST', '/control/devices/d1/state', { state: 'connected' }],
    ['sent after not a number', 'GET', '/control/sent?after=x', undefined],
    ['sent for a phone not digits', 'GET', '/control/sent?phone=abc', undefined],
  ])('refuses %s with 400', async (_what, method, path, body) => {
    const res = await call(method, path, body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  });

  it('creates nothing from a refused request', async () => {
    await call('POST', '/control/accounts/abc/incoming', { from: '2' });
    await call('POST', '/control/accounts/111/incoming', { from: 123 });
    await call('PUT', '/control/numbers', { '5': { canonical: '6' }, '1': null });
    expect(emulator.state.sent()).toEqual([]);
    expect((emulator.state as unknown as { accounts: Map<string, unknown> }).accounts.size).toBe(0);
    expect(emulator.state.queryExists('5')).toEqual({ wid: '5@c.us' });
  });

  it('accepts qrRotateMs 0 (never rotate) and 1000', async () => {
    expect((await call('PUT', '/control/settings', { qrRotateMs: 0 })).status).toBe(200);
    expect((await call('PUT', '/control/settings', { qrRotateMs: 1000 })).body).toMatchObject({
      qrRotateMs: 1000,
    });
  });

  /** Sends headers (and optionally a streamed body) and returns the status line answered. */
  function oversized(declared: boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(emulator.port, '127.0.0.1');
      let answered = false;
      socket.once('data', (d) => {
        answered = true;
        resolve(d.toString().split('\r\n')[0]);
        socket.destroy();
      });
      socket.on('error', (err) => {
        if (!answered) reject(err);
      });
      socket.once('connect', async () => {
        socket.write(
          'PUT /control/numbers HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n' +
            (declared
              ? `content-length: ${MAX_BODY_BYTES + 1}\r\n\r\n{"1":`
              : 'transfer-encoding: chunked\r\n\r\n'),
        );
        if (declared) return;
        const chunk = Buffer.alloc(1 << 20, 0x20);
        for (let sent = 0; sent <= MAX_BODY_BYTES + chunk.length && !answered;) {
          const ok = socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString()}\r\n`);
          sent += chunk.length;
          if (!ok) await new Promise((r) => socket.once('drain', r));
        }
      });
    });
  }

  it('answers a body declared over 16 MB 413 without reading it', async () => {
    expect(await oversized(true)).toMatch(/^HTTP\/1\.1 413/);
  });

  it('answers a streamed body that grows over 16 MB 413', async () => {
    expect(await oversized(false)).toMatch(/^HTTP\/1\.1 413/);
  });
});
