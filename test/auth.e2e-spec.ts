import { Redis } from 'ioredis';
import { TestSystem, TEST_API_KEY } from './support/system';
import { rawRequest, redisSnapshot } from './support/raw-http';
import { gatewayRoutes, type GatewayRoute } from './support/routes';

/**
 * Issue 8 point 1: guard by default, on the matched route. The guard once tested the raw URL
 * for `/api/`, while Fastify routes the decoded path: `GET /%61pi/sessions` answered 200 with
 * no key. Every route of the gateway (read from its controllers, not listed here) is tried under
 * every spelling an attacker would try.
 */

/** Spellings of one concrete path that a router might route to the same handler. */
function spellings(path: string): string[] {
  const segs = path.split('/').slice(1);
  const pct = (s: string) => `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`;
  const withSeg = (i: number, f: (s: string) => string) =>
    `/${segs.map((s, j) => (j === i ? f(s) : s)).join('/')}`;
  const out = new Set<string>([
    path,
    withSeg(0, pct), // /%61pi/sessions
    withSeg(0, (s) => `%${s.charCodeAt(0).toString(16).toUpperCase()}${s.slice(1)}`),
    `/${segs.map((s) => [...s].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')).join('/')}`,
    `/${path}`, // //api/sessions
    path.replace('/', '//').replace(/^\/\/(\w+)\//, '/$1//'), // /api//sessions
    `/.${path}`, // /./api/sessions
    `/x/..${path}`, // /x/../api/sessions
    `${path}/`,
    `${path};x`,
    `${path}%2f`,
    `${path}?x=1`,
    `${path}#x`,
    path.toUpperCase(),
    `/${segs.map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join('/')}`,
  ]);
  if (segs.length > 1) out.add(withSeg(1, pct)); // /api/%73essions
  return [...out];
}

describe('API key on every route, whatever the spelling (issue 8 point 1)', () => {
  const sys = new TestSystem('auth', {
    // Hundreds of key-less requests from one address here: the 401 throttle is tested below.
    extra: { AUTH_FAILURES_PER_MINUTE: '1000000' },
  });
  let redis: Redis;
  const routes = gatewayRoutes();
  let messageId: string;

  beforeAll(async () => {
    await sys.start([]);
    redis = new Redis(sys.env.redisUrl);
    expect((await sys.api.createSession('victim')).status).toBe(201);
    const sent = await sys.api.post('/api/sessions/victim/messages', {
      to: '15551234567',
      text: 'hello',
      sendAt: new Date(Date.now() + 3600000).toISOString(),
    });
    expect(sent.status).toBe(202);
    messageId = sent.body.id;
  }, 60000);
  afterAll(async () => {
    await redis?.quit();
    await sys.stop();
  }, 30000);

  it('knows the routes from the router, and only the probes are public', () => {
    expect(routes.length).toBeGreaterThanOrEqual(20);
    expect(routes.filter((r) => r.public).map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(['GET /healthz', 'GET /readyz']),
    );
    for (const r of routes.filter((x) => x.public)) {
      expect(r.path).not.toMatch(/^\/api(\/|$)/);
    }
  });

  /** A concrete path for a route, and a body that its handler would accept: a bypass shows as 2xx. */
  function concrete(r: GatewayRoute): { path: string; body?: string } {
    const path = r.path
      .replace(/^\/api\/messages\/:id/, `/api/messages/${messageId}`)
      .replace(':id', 'victim')
      .replace(':phone', '15551234567');
    const bodies: Record<string, unknown> = {
      'POST /api/sessions': { id: 'made-by-nobody', driver: 'simulator' },
      'POST /api/sessions/victim/messages': { to: '15551234567', text: 'from nobody' },
      'POST /api/sessions/victim/messages/bulk': {
        messages: [{ to: '15551234567', text: 'from nobody' }],
      },
      'POST /api/sessions/victim/pairing-code': { phone: '+15551234567' },
      'POST /api/sessions/victim/simulator/faults': { type: 'hang' },
      'POST /api/clear-queue': { session: 'victim' },
      'POST /api/recover-session': { session: 'victim' },
    };
    if (r.method === 'GET' || r.method === 'DELETE') return { path };
    return { path, body: JSON.stringify(bodies[`${r.method} ${path}`] ?? {}) };
  }

  it('never answers 2xx without a key, and a key-less POST through any spelling writes nothing', async () => {
    const prefix = sys.env.prefix;
    // The throttler's counters are per address, not per id: the only keys a refusal may touch.
    const skip = (k: string) => k.startsWith(`${prefix}:throttle:`);
    const before = await redisSnapshot(redis, prefix, skip);
    const failures: string[] = [];
    let tried = 0;
    for (const route of routes.filter((r) => !r.public)) {
      const { path, body } = concrete(route);
      for (const spelling of spellings(path)) {
        for (const headers of [
          {} as Record<string, string>,
          { 'x-api-key': 'wrong-key-0123456789' },
          { authorization: `Basic ${Buffer.from('admin:wrong-key-0123').toString('base64')}` },
        ]) {
          const res = await rawRequest(sys.gateway.url, route.method, spelling, {
            headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
            body,
          });
          tried++;
          const canonical = spelling === path;
          // The canonical path is the route: exactly 401. Other spellings either reach the
          // route (401) or no route at all (404, or 400 for a path that is not valid).
          const ok = canonical
            ? res.status === 401
            : [400, 401, 404].includes(res.status) && res.json?.error?.code !== undefined;
          if (!ok) failures.push(`${route.method} ${spelling} -> ${res.status} ${res.text}`);
        }
      }
    }
    expect(tried).toBeGreaterThan(500);
    expect(failures).toEqual([]);
    const after = await redisSnapshot(redis, prefix, skip);
    expect([...after.keys()]).toEqual([...before.keys()]);
    expect(after).toEqual(before);
    // The same spellings with the key do reach the route (the guard, not the router, said no).
    const withKey = await rawRequest(sys.gateway.url, 'GET', '/%61pi/sessions', {
      headers: { 'x-api-key': TEST_API_KEY },
    });
    expect(withKey.status).toBe(200);
  }, 120000);

  it('takes HTTP basic credentials (any user, an API key as password) instead of X-Api-Key', async () => {
    const basic = (user: string, pass: string) =>
      `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    const ok = await rawRequest(sys.gateway.url, 'GET', '/api/sessions', {
      headers: { authorization: basic('anyone', TEST_API_KEY) },
    });
    expect(ok.status).toBe(200);
    expect(ok.json.sessions.map((s: { id: string }) => s.id)).toContain('victim');
    const wrong = await rawRequest(sys.gateway.url, 'GET', '/api/sessions', {
      headers: { authorization: basic('anyone', 'not-the-key-0000') },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic realm="wa-gateway"/);
    // A script without credentials gets the plain 401, no browser challenge.
    const plain = await rawRequest(sys.gateway.url, 'GET', '/api/sessions');
    expect(plain.status).toBe(401);
    expect(plain.headers['www-authenticate']).toBeUndefined();
  });

  it('refuses a change another site makes a browser send with its saved basic credentials (CSRF), and writes nothing', async () => {
    const basic = `Basic ${Buffer.from(`anyone:${TEST_API_KEY}`).toString('base64')}`;
    const host = new URL(sys.gateway.url).host;
    const skip = (k: string) => k.startsWith(`${sys.env.prefix}:throttle:`);
    const before = await redisSnapshot(redis, sys.env.prefix, skip);
    // A form or a no-cors fetch from another page: no preflight, credentials sent by the browser.
    const crossSite: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example' },
      { origin: 'null' },
    ];
    for (const headers of crossSite) {
      for (const [method, path] of [
        ['POST', '/api/sessions/victim/recover'],
        ['DELETE', `/api/messages/${messageId}`],
        ['POST', '/api/clear-queue'],
      ]) {
        const res = await rawRequest(sys.gateway.url, method, path, {
          headers: { authorization: basic, ...headers },
        });
        expect([method, path, headers, res.status, res.json?.error?.code]).toEqual([
          method,
          path,
          headers,
          403,
          'CROSS_SITE_REQUEST',
        ]);
      }
    }
    expect(await redisSnapshot(redis, sys.env.prefix, skip)).toEqual(before);
    // The dashboard's own calls (same origin) and scripts (no browser headers) go through;
    // so does a cross-site read (its answer is not readable there) and X-Api-Key (a custom
    // header needs a preflight, which this gateway never grants).
    const sameOrigin = await rawRequest(sys.gateway.url, 'POST', '/api/sessions/victim/recover', {
      headers: { authorization: basic, 'sec-fetch-site': 'same-origin', origin: `http://${host}` },
    });
    expect(sameOrigin.status).not.toBe(403);
    const read = await rawRequest(sys.gateway.url, 'GET', '/api/sessions', {
      headers: { authorization: basic, 'sec-fetch-site': 'cross-site' },
    });
    expect(read.status).toBe(200);
    const byHeader = await rawRequest(sys.gateway.url, 'GET', `/api/messages/${messageId}`, {
      headers: { 'x-api-key': TEST_API_KEY, 'sec-fetch-site': 'cross-site' },
    });
    expect(byHeader.status).toBe(200);
  });
});

describe('rate limits on the matched route, and repeated 401s (issue 8 point 1)', () => {
  const sys = new TestSystem('auth-throttle', {
    extra: { RATE_LIMIT_PER_MINUTE: '5', AUTH_FAILURES_PER_MINUTE: '5' },
  });

  beforeAll(() => sys.start([]), 60000);
  afterAll(() => sys.stop(), 30000);

  it('counts requests through a bypass spelling against the key', async () => {
    const statuses: number[] = [];
    for (const path of [
      '/api/sessions',
      '/api/sessions',
      '/%61pi/sessions',
      '/api/%73essions',
      '/%61pi/%73essions',
      '/%61pi/sessions',
      '/api/%73essions',
    ]) {
      const res = await rawRequest(sys.gateway.url, 'GET', path, {
        headers: { 'x-api-key': TEST_API_KEY },
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it('answers 429 with Retry-After to an address that keeps failing, before looking at its key', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof rawRequest>> | undefined;
    for (let i = 0; i < 8; i++) {
      last = await rawRequest(sys.gateway.url, 'GET', i % 2 ? '/%61pi/workers' : '/api/workers', {
        // A new X-Forwarded-For each time: with no trusted proxy (TRUST_PROXY default) it must
        // not give the client a fresh address to fail from.
        headers: {
          'x-api-key': `guess-${i}-0123456789abcdef`,
          'x-forwarded-for': `203.0.113.${i + 1}`,
        },
      });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    expect(last?.json.error.code).toBe('TOO_MANY_AUTH_FAILURES');
    expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
    // Even the right key waits: a blocked address is refused whatever key it presents.
    const right = await rawRequest(sys.gateway.url, 'GET', '/api/health', {
      headers: { 'x-api-key': TEST_API_KEY },
    });
    expect(right.status).toBe(429);
    // The probes stay open.
    expect((await rawRequest(sys.gateway.url, 'GET', '/readyz')).status).toBe(200);
  });
});
