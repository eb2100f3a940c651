import { Redis } from 'ioredis';
import { TestSystem, TEST_API_KEY } from './support/system';
import { startGateway, type AppProcess } from './support/processes';
import { rawRequest, redisSnapshot, type RawResponse } from './support/raw-http';
import { waitFor } from './support/wait-for';

/** Issue 11, Bull Board: real gateways (two on one prefix) and a worker, over real HTTP. */
const BASIC = { authorization: `Basic ${Buffer.from(`ops:${TEST_API_KEY}`).toString('base64')}` };
const CHALLENGE = 'Basic realm="wa-gateway", charset="UTF-8"';
const NOT_ON_WHATSAPP = '15559999999';

const q = (name: string) => encodeURIComponent(name);

async function boardQueues(url: string): Promise<any[]> {
  const res = await rawRequest(url, 'GET', '/admin/queues/api/queues', { headers: BASIC });
  expect(res.status).toBe(200);
  return res.json.queues;
}

async function boardQueueNames(url: string): Promise<string[]> {
  return (await boardQueues(url)).map((queue) => queue.name as string);
}

/** The path of the first script the board's page loads. */
function assetOf(html: string): string {
  const src = /<script[^>]+src="(static\/[^"]+\.js)"/.exec(html)?.[1];
  expect(src).toBeDefined();
  return `/admin/queues/${src}`;
}

/** A board write, as the board's page sends it. */
function act(url: string, method: string, path: string, body?: unknown): Promise<RawResponse> {
  return rawRequest(url, method, `/admin/queues/api/queues${path}`, {
    headers: { ...BASIC, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe('Bull Board at /admin/queues', () => {
  // The spellings below collect a few dozen 401s from this address: not the limiter's test.
  const sys = new TestSystem('board', { extra: { AUTH_FAILURES_PER_MINUTE: '1000' } });
  let second: { proc: AppProcess; url: string };
  let redis: Redis;

  beforeAll(async () => {
    await sys.start(['worker-a']);
    // A second replica on the same prefix, read-only: it never handles a create or a delete.
    second = await startGateway({
      ...sys.env,
      extra: { ...sys.env.extra, BULL_BOARD_READ_ONLY: 'true' },
    });
    redis = new Redis(sys.env.redisUrl);
  }, 60000);
  afterAll(async () => {
    await redis?.quit();
    await second?.proc.kill();
    await sys.stop();
  }, 30000);

  it('serves the page, its assets and its API with credentials, listing every queue', async () => {
    await sys.readySession('alpha');
    const page = await rawRequest(sys.gateway.url, 'GET', '/admin/queues', { headers: BASIC });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    // The page names its assets relative to <base href="/admin/queues/">.
    expect(page.text).toContain('<base href="/admin/queues/"');
    const asset = assetOf(page.text);
    const script = await rawRequest(sys.gateway.url, 'GET', asset, { headers: BASIC });
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    const withoutKey = await rawRequest(sys.gateway.url, 'GET', asset);
    expect(withoutKey.status).toBe(401);

    const names = await waitFor('the board to list alpha', async () => {
      const listed = await boardQueueNames(sys.gateway.url);
      return listed.includes('out.{alpha}') ? listed : null;
    });
    expect(names).toEqual(expect.arrayContaining(['{_webhooks}', '{_maintenance}']));
  });

  it('answers 401 with the basic challenge, or 404, to every spelling of a board path without credentials', async () => {
    const page = await rawRequest(sys.gateway.url, 'GET', '/admin/queues', { headers: BASIC });
    const asset = assetOf(page.text);
    const spellings = [
      '/admin/queues',
      '/admin/queues/',
      '/ADMIN/queues',
      '/admin/QUEUES',
      '/admin//queues',
      '/admin/./queues',
      '/admin/queues/.',
      '/x/../admin/queues',
      '/admin/%71ueues',
      '/%61dmin/queues/api/queues',
      '/admin/queues/api/queues',
      '/admin/queues/api/queues?activeQueue=out.%7Balpha%7D',
      '/admin/queues/queue/out.%7Balpha%7D',
      asset,
      asset.replace('/static/', '/%73tatic/'),
      '/admin/queues/api/redis/stats',
    ];
    const wrongKey = {
      authorization: `Basic ${Buffer.from('ops:wrong-key-0123456789').toString('base64')}`,
    };
    for (const path of spellings) {
      for (const headers of [{}, wrongKey]) {
        const res = await rawRequest(sys.gateway.url, 'GET', path, { headers });
        if (process.env.E2E_VERBOSE) process.stderr.write(`${path} -> ${res.status}\n`);
        expect([path, [401, 404].includes(res.status)]).toEqual([path, true]);
        if (res.status === 401)
          expect([path, res.headers['www-authenticate']]).toEqual([path, CHALLENGE]);
        // Never the board or its data.
        expect(res.text).not.toMatch(/out\.\{alpha\}|<html|_webhooks/i);
        expect(res.json?.error?.code).toMatch(/^(UNAUTHORIZED|NOT_FOUND)$/);
      }
    }
    // Actions, too: refused before anything runs.
    for (const [method, path] of [
      ['PUT', `/admin/queues/api/queues/${q('out.{alpha}')}/some-job/retry`],
      ['PUT', `/admin/queues/api/queues/${q('out.{alpha}')}/pause`],
      ['PUT', '/admin/%71ueues/api/queues/pause'],
      ['POST', `/admin/queues/api/queues/${q('out.{alpha}')}/add`],
    ]) {
      const res = await rawRequest(sys.gateway.url, method, path);
      expect([method, path, res.status]).toEqual([method, path, 401]);
    }
  });

  it('shows a session created through another replica, and drops it after DELETE, without a restart', async () => {
    expect(await boardQueueNames(second.url)).not.toContain('out.{beta}');
    expect((await sys.api.createSession('beta')).status).toBe(201);
    await waitFor('the second gateway to list beta', async () =>
      (await boardQueueNames(second.url)).includes('out.{beta}'),
    );
    expect((await sys.api.delete('/api/sessions/beta')).status).toBe(202);
    await waitFor('the second gateway to drop beta', async () => {
      const names = await boardQueueNames(second.url);
      return names.includes('out.{alpha}') && !names.includes('out.{beta}');
    });
  });

  describe('actions', () => {
    let delayedId: string;
    let failedId: string;
    const text = 'board-secret-text-4711';

    beforeAll(async () => {
      await sys.readySession('acts', { simulator: { notOnWhatsApp: [NOT_ON_WHATSAPP] } });
      const sendAt = new Date(Date.now() + 3600_000).toISOString();
      const delayed = await sys.api.post('/api/sessions/acts/messages', {
        to: '15551230001',
        text,
        sendAt,
      });
      expect(delayed.status).toBe(202);
      delayedId = delayed.body.id;
      const failed = await sys.api.post('/api/sessions/acts/messages', {
        to: NOT_ON_WHATSAPP,
        text: 'to nobody',
      });
      expect(failed.status).toBe(202);
      failedId = failed.body.id;
      await sys.waitForMessage(failedId, ['failed']);
      await waitFor('the failed send job', async () => {
        const res = await act(sys.gateway.url, 'GET', `/${q('out.{acts}')}/${failedId}`);
        return res.status === 200 && res.json.status === 'failed';
      });
      // Nothing else writes under the prefix from here on but what the board is asked to do.
      await Promise.all([...sys.workers.values()].map((w) => w.kill()));
    }, 60000);

    it('refuses with 403 every action that would move a job away from its message record, and changes nothing in Redis', async () => {
      const prefix = sys.env.prefix;
      // Throttle counters move with every request; a queue's stalled-check marker expires by itself.
      const skip = (k: string) =>
        k.startsWith(`${prefix}:throttle:`) || k.endsWith(':stalled-check');
      const before = await redisSnapshot(redis, prefix, skip);
      const out = `/${q('out.{acts}')}`;
      const refused: [string, string, unknown?][] = [
        ['PUT', `${out}/${failedId}/retry`],
        ['PUT', `${out}/retry/failed`],
        ['PUT', `${out}/${delayedId}/promote`],
        ['PUT', `${out}/promote`],
        ['PUT', `${out}/${delayedId}/clean`],
        ['PUT', `${out}/clean/delayed`],
        ['PUT', `${out}/clean/wait`],
        ['PUT', `${out}/pause`],
        ['PUT', `${out}/resume`],
        ['PUT', `${out}/empty`],
        ['PUT', `${out}/obliterate`],
        ['POST', `${out}/add`, { name: 'send-message', data: {}, options: {} }],
        ['PATCH', `${out}/${delayedId}/delay`, { delay: 0 }],
        ['PATCH', `${out}/${delayedId}/update-data`, { data: {} }],
        ['PUT', `${out}/rate-limit/release`],
        ['PUT', '/pause'],
        ['PUT', '/resume'],
        ['PUT', `/${q('{_webhooks}')}/retry/failed`],
        ['PUT', `/${q('{_webhooks}')}/pause`],
        ['PUT', `/${q('{_maintenance}')}/pause`],
        ['PUT', `/${q('{_maintenance}')}/clean/delayed`],
      ];
      for (const [method, path, body] of refused) {
        const res = await act(sys.gateway.url, method, path, body);
        expect([method, path, res.status]).toEqual([method, path, 403]);
        expect(res.json.message).toMatch(/refused|not allowed/);
      }
      expect(await redisSnapshot(redis, prefix, skip)).toEqual(before);
      expect((await sys.api.get(`/api/messages/${delayedId}`)).body.status).toBe('queued');
      expect((await sys.api.get(`/api/messages/${failedId}`)).body.status).toBe('failed');
    });

    it('shows a send job without its message text', async () => {
      const res = await act(sys.gateway.url, 'GET', `/${q('out.{acts}')}/${delayedId}`);
      expect(res.status).toBe(200);
      expect(res.json.job.data.content.text).toBe(`[${text.length} characters]`);
      expect(res.text).not.toContain(text);
    });

    it('removes a failed send job (its record is final and stays so)', async () => {
      const res = await act(sys.gateway.url, 'PUT', `/${q('out.{acts}')}/${failedId}/clean`);
      expect(res.status).toBe(204);
      const gone = await act(sys.gateway.url, 'GET', `/${q('out.{acts}')}/${failedId}`);
      expect(gone.status).toBe(404);
      expect((await sys.api.get(`/api/messages/${failedId}`)).body.status).toBe('failed');
    });

    it('with BULL_BOARD_READ_ONLY, every queue is read-only and every action refused', async () => {
      const queues = await boardQueues(second.url);
      expect(queues.length).toBeGreaterThanOrEqual(3);
      for (const queue of queues) {
        expect([queue.name, queue.readOnlyMode, queue.allowRetries]).toEqual([
          queue.name,
          true,
          false,
        ]);
      }
      const prefix = sys.env.prefix;
      // Throttle counters move with every request; a queue's stalled-check marker expires by itself.
      const skip = (k: string) =>
        k.startsWith(`${prefix}:throttle:`) || k.endsWith(':stalled-check');
      const before = await redisSnapshot(redis, prefix, skip);
      const out = `/${q('out.{acts}')}`;
      // What the writable replica allows (a finished job's clean) is refused here too.
      for (const [method, path] of [
        ['PUT', `${out}/clean/failed`],
        ['PUT', `${out}/${delayedId}/promote`],
        ['PUT', `/${q('{_maintenance}')}/retry/failed`],
        ['PUT', '/pause'],
      ]) {
        const res = await act(second.url, method, path);
        expect([method, path, [403, 405].includes(res.status)]).toEqual([method, path, true]);
      }
      expect(await redisSnapshot(redis, prefix, skip)).toEqual(before);
    });
  });
});

describe('Bull Board auth failures', () => {
  const sys = new TestSystem('board-auth', { extra: { AUTH_FAILURES_PER_MINUTE: '3' } });

  beforeAll(async () => {
    await sys.start([]);
  }, 60000);
  afterAll(async () => {
    await sys.stop();
  }, 30000);

  it("counts the board's 401s: past AUTH_FAILURES_PER_MINUTE the address gets 429, right key or not", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await rawRequest(sys.gateway.url, 'GET', '/admin/queues')).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const right = await rawRequest(sys.gateway.url, 'GET', '/admin/queues/api/queues', {
      headers: BASIC,
    });
    expect(right.status).toBe(429);
    expect(right.json.error.code).toBe('TOO_MANY_AUTH_FAILURES');
    expect(right.headers['retry-after']).toBeDefined();
  });
});
