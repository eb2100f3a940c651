import { freePort, RedisServer, sharedRedisUrl, uniquePrefix } from './support/redis-server';
import { LocalStart } from './support/local-start';
import { TestSystem, TEST_API_KEY } from './support/system';
import { waitFor } from './support/wait-for';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The gateway's JSON log lines (other output, such as npm's, is skipped). */
function jsonLines(text: string): Record<string, any>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/**
 * Issue 11, logs: every gateway line of a request carries the request's id (the caller's
 * X-Request-Id when sane, echoed back), service lines included; production stays JSON.
 */
describe('request ids in the gateway logs', () => {
  const sys = new TestSystem('reqid', { extra: { LOG_LEVEL: 'debug' } });

  beforeAll(async () => {
    await sys.start(['worker-reqid']);
    await sys.readySession('rq');
  });
  afterAll(() => sys.stop());

  it('puts a sane X-Request-Id on every line of its request, the service lines too, and echoes it', async () => {
    const res = await sys.api.post(
      '/api/sessions/rq/messages',
      { to: '15551234567', text: 'hello' },
      { 'x-request-id': 'abc-123' },
    );
    expect(res.status).toBe(202);
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const messageId = res.body.id as string;

    const ofRequest = await waitFor('the request to be logged as completed', () => {
      const lines = jsonLines(sys.gateway.proc.logs()).filter(
        (l) => l.reqId === 'abc-123' || l.req?.id === 'abc-123',
      );
      return lines.some((l) => l.msg === 'request completed') ? lines : null;
    });
    // The service's line (message accepted) and pino-http's (request completed), at least.
    expect(ofRequest.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['message accepted', 'request completed']),
    );
    for (const line of ofRequest) expect(line.reqId).toBe('abc-123');
    const accepted = ofRequest.find((l) => l.msg === 'message accepted')!;
    expect([accepted.sessionId, accepted.messageId]).toEqual(['rq', messageId]);
    // Lines written during the request without its id: none (each line of the gateway that
    // names this message carries the request id).
    const naming = jsonLines(sys.gateway.proc.logs()).filter((l) => l.messageId === messageId);
    expect(naming.every((l) => l.reqId === 'abc-123')).toBe(true);
  });

  it('replaces an id that is not a sane token with a fresh one, and still echoes it', async () => {
    for (const bad of ['has space', 'x'.repeat(65), 'quote"it', 'a/b']) {
      const res = await sys.api.post(
        '/api/sessions/rq/messages',
        { to: '15551234567', text: 'x' },
        {
          'x-request-id': bad,
        },
      );
      expect(res.status).toBe(202);
      const echoed = res.headers.get('x-request-id')!;
      expect(echoed).toMatch(UUID);
      await waitFor('the fresh id in the logs', () =>
        jsonLines(sys.gateway.proc.logs()).some(
          (l) => l.reqId === echoed && l.msg === 'message accepted' && l.messageId === res.body.id,
        ),
      );
    }
  });

  it('gives a request without the header an id of its own, on errors too, and logs no query string', async () => {
    const res = await sys.api.get('/api/messages/msg_missing?probe=query-9f2c1e');
    expect(res.status).toBe(404);
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(UUID);
    const line = await waitFor('the 404 to be logged', () =>
      jsonLines(sys.gateway.proc.logs()).find(
        (l) => l.reqId === id && l.msg === 'request completed',
      ),
    );
    expect(line.level).toBe(40); // warn: a client error
    expect(line.req.url).toBe('/api/messages/msg_missing');
    // The request as identified, not as sent: no headers (keys, cookies) at all.
    expect(Object.keys(line.req).sort()).toEqual(['id', 'method', 'remoteAddress', 'url']);
    expect([line.req.id, line.req.method]).toEqual([id, 'GET']);
    expect(sys.gateway.proc.logs()).not.toContain('query-9f2c1e');
    expect(sys.gateway.proc.logs()).not.toContain(TEST_API_KEY);
  });
});

/** An outage is logged once per refused request, at warn, with its code: not twice with a stack. */
describe('a request refused while Redis is down', () => {
  let redis: RedisServer;
  let sys: TestSystem;

  beforeAll(async () => {
    redis = await RedisServer.start({ aof: false });
    sys = new TestSystem('outage-log', { redisUrl: redis.url, extra: { LOG_LEVEL: 'debug' } });
    await sys.start([]);
  }, 60000);
  afterAll(async () => {
    await sys?.stop();
    await redis?.stop();
  });

  it('writes one warn line with the code and the cause, no stack and no error line', async () => {
    await redis.kill();
    const res = await sys.api.post(
      '/api/sessions/any/messages',
      { to: '15551234567', text: 'during the outage' },
      { 'x-request-id': 'outage-1' },
    );
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('REDIS_UNAVAILABLE');
    const lines = await waitFor('the refused request to be logged as completed', () => {
      const of = jsonLines(sys.gateway.proc.logs()).filter((l) => l.reqId === 'outage-1');
      return of.some((l) => l.res?.statusCode === 503) ? of : null;
    });
    const warn = lines.filter((l) => l.level === 40);
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({
      msg: 'request refused: service unavailable',
      code: 'REDIS_UNAVAILABLE',
      status: 503,
      url: '/api/sessions/any/messages',
    });
    expect(typeof warn[0].cause).toBe('string');
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(JSON.stringify(lines)).not.toMatch(/stack|during the outage/);
    // pino-http's closing line: at debug, without an error object of its own.
    const closing = lines.find((l) => l.res?.statusCode === 503)!;
    expect(closing.level).toBe(20);
    expect(closing.err).toBeUndefined();
  });
});

describe('npm start prints readable logs', () => {
  let port: number;
  let local: LocalStart;
  const key = 'local-e2e-key-0123456789';

  beforeAll(async () => {
    port = await freePort();
    local = new LocalStart({
      REDIS_URL: sharedRedisUrl(),
      QUEUE_PREFIX: uniquePrefix('start'),
      PORT: String(port),
      API_KEYS: key,
      LOG_LEVEL: 'debug',
      LOG_FORMAT: '',
      WORKER_ID: 'local-e2e-worker',
    });
    await waitFor(
      'npm start to print its banner',
      () => local.text().includes('Ctrl-C stops everything'),
      40000,
      100,
    );
  }, 60000);
  afterAll(() => local?.stop(), 40000);

  it('shows each log line as a readable line, not JSON, with the request id and no secrets', async () => {
    const text = 'distinctive-local-text-71c0';
    const res = await fetch(`http://127.0.0.1:${port}/api/sessions/demo/messages`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json', 'x-request-id': 'local-1' },
      body: JSON.stringify({ to: '15551234567', text }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const line = await waitFor('the accepted message in the output', () =>
      local
        .text()
        .split('\n')
        .find((l) => l.startsWith('[gateway]') && l.includes('message accepted')),
    );
    // `[gateway] 12:03:04.567 INFO: message accepted {"reqId":"local-1",...}`
    expect(line).toMatch(/^\[gateway\] \[\d\d:\d\d:\d\d\.\d{3}\] INFO: message accepted /);
    expect(line).toContain('"reqId":"local-1"');
    expect(line).toContain(id);
    expect(() => JSON.parse(line.slice('[gateway] '.length))).toThrow();
    // The worker's lines too; no app line is a raw JSON object.
    await waitFor('a worker line', () => local.text().includes('[worker] ['));
    const appLines = local
      .text()
      .split('\n')
      .filter((l) => /^\[(gateway|worker)\] /.test(l));
    expect(appLines.filter((l) => /^\[(gateway|worker)\] \{"level"/.test(l))).toEqual([]);
    // Redaction holds in the readable form: the message text and the key are on no app line
    // (the banner prints the key on purpose; log lines never do).
    const appText = appLines.join('\n');
    expect(appText).not.toContain(text);
    expect(appText).not.toContain(key);
  });
});
