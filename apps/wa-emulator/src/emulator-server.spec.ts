import pino from 'pino';
import { startEmulator, type RunningEmulator } from './index';
import { controlRequest, pageRequest } from './testing/page-request';

/**
 * The emulator's one port under malformed input: a bad request is answered with
 * `{error: {code, message}}` and never takes the process (or the next request) down.
 */
describe('EmulatorServer request errors', () => {
  let emulator: RunningEmulator;

  beforeAll(async () => {
    emulator = await startEmulator({ logger: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    await emulator?.close();
  });

  const errorOf = (body: string) => (JSON.parse(body) as { error: { code: string } }).error;

  it('answers a media path with a malformed percent-encoding 400, and keeps serving', async () => {
    const res = await pageRequest(emulator.port, 'GET', '/emu/media/%E0%A4%A?device=x');
    expect(res.status).toBe(400);
    expect(errorOf(res.body).code).toBe('bad_encoding');
    expect((await pageRequest(emulator.port, 'GET', '/emu/runtime.js')).status).toBe(200);
    expect((await controlRequest(emulator.port, 'GET', '/healthz')).status).toBe(200);
  });

  it('answers a control path with a malformed percent-encoding 400', async () => {
    const res = await controlRequest(
      emulator.port,
      'POST',
      '/control/devices/%E0%A4%A/freeze',
      '{}',
    );
    expect(res.status).toBe(400);
    expect(errorOf(res.body).code).toBe('bad_encoding');
    expect((await controlRequest(emulator.port, 'GET', '/control/devices')).status).toBe(200);
  });

  it('answers a page request that breaks a handler 500, and keeps serving', async () => {
    const broken = jest.spyOn(emulator.state, 'message').mockImplementation(() => {
      throw new Error('a bug');
    });
    try {
      const res = await pageRequest(emulator.port, 'GET', '/emu/media/abc?device=x');
      expect(res.status).toBe(500);
      expect(errorOf(res.body).code).toBe('internal');
    } finally {
      broken.mockRestore();
    }
    expect((await pageRequest(emulator.port, 'GET', '/emu/media/abc?device=x')).status).toBe(404);
  });

  it('answers a control request that breaks a handler 500', async () => {
    const broken = jest.spyOn(emulator.state, 'listDevices').mockImplementation(() => {
      throw new Error('a bug');
    });
    try {
      const res = await controlRequest(emulator.port, 'GET', '/control/devices');
      expect(res.status).toBe(500);
      expect(errorOf(res.body).code).toBe('internal');
    } finally {
      broken.mockRestore();
    }
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'nope'])(
    'answers the page rpc %s 400 unknown_method, with nothing of the server state',
    async (method) => {
      const res = await pageRequest(
        emulator.port,
        'POST',
        '/emu/rpc',
        JSON.stringify({ deviceId: 'd', method, params: {} }),
      );
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual({
        error: { code: 'unknown_method', message: `unknown rpc ${method}` },
      });
    },
  );
});
