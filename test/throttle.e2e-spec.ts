import { TestSystem } from './support/system';

/** Requests are limited per API key, in Redis, so every gateway replica shares the count. */
describe('request rate limit', () => {
  const sys = new TestSystem('throttle', { extra: { RATE_LIMIT_PER_MINUTE: '5' } });

  beforeAll(() => sys.start([]), 60000);
  afterAll(() => sys.stop(), 30000);

  it('answers 429 with Retry-After past RATE_LIMIT_PER_MINUTE, and never limits the probes', async () => {
    const statuses: number[] = [];
    let limited;
    for (let i = 0; i < 8; i++) {
      const res = await sys.api.get('/api/sessions');
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    expect(limited?.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++)
      expect((await fetch(`${sys.gateway.url}/readyz`)).status).toBe(200);
  });
});
