import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { EnvReader, REDIS, RedisKeys } from '@app/core';
import { INITIAL_SESSION_STATE, SessionStore, type StoredSession } from '@app/session';
import { sharedRedisUrl, uniquePrefix } from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait-for';
import { loadGatewayConfig } from './config/gateway.config';
import { GatewayModule } from './gateway.module';

const API_KEY = 'override-spec-0123456789';

/** A registry that holds one session and never touches Redis. */
class OneSessionStore {
  readonly calls: string[] = [];
  private readonly stored: StoredSession = {
    config: {
      id: 'from-the-fake',
      driver: 'simulator',
      rateLimit: { perMinute: 0, minDelayMs: 0, maxDelayMs: 0 },
      webhook: null,
      simulator: null,
      createdAt: '2026-01-01T00:00:00.000Z',
    },
    state: { ...INITIAL_SESSION_STATE, status: 'ready', phone: '15550000000' },
  };

  async ids(): Promise<string[]> {
    this.calls.push('ids');
    return [this.stored.config.id];
  }
  async get(id: string): Promise<StoredSession | null> {
    this.calls.push(`get ${id}`);
    return id === this.stored.config.id ? this.stored : null;
  }
  async owner(): Promise<null> {
    return null;
  }
}

/**
 * The core module is wired once and every feature module takes its providers from it, so a test
 * replaces one of them (here the session registry) for the whole app with `overrideProvider`.
 */
describe('GatewayModule with an overridden core provider (real Redis, HTTP through Fastify)', () => {
  const prefix = uniquePrefix('override');
  const fake = new OneSessionStore();
  let app: NestFastifyApplication;
  let redis: Redis;
  let base: string;
  let closed = false;

  const get = (path: string) => fetch(`${base}${path}`, { headers: { 'x-api-key': API_KEY } });

  beforeAll(async () => {
    const config = loadGatewayConfig(
      new EnvReader({ REDIS_URL: sharedRedisUrl(), QUEUE_PREFIX: prefix, API_KEYS: API_KEY }),
    );
    const moduleRef = await Test.createTestingModule({ imports: [GatewayModule.forRoot(config)] })
      .overrideProvider(SessionStore)
      .useValue(fake)
      .compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter());
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    redis = app.get<Redis>(REDIS);
  });

  afterAll(async () => {
    if (!closed) await app?.close();
  });

  it('serves the sessions of the replacement, and the real registry stays empty', async () => {
    const res = await get('/api/sessions');
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      sessions: { id: string; status: string; worker: string | null }[];
    };
    expect(body.sessions).toEqual([
      // No live worker owns it (the fake says so): `starting`, as the contract says.
      expect.objectContaining({ id: 'from-the-fake', status: 'starting', worker: null }),
    ]);
    expect(fake.calls).toEqual(expect.arrayContaining(['ids', 'get from-the-fake']));
    expect(await redis.exists(app.get(RedisKeys).sessions())).toBe(0);
  });

  it('answers 404 for a session the replacement does not hold', async () => {
    const res = await get('/api/sessions/elsewhere');
    expect(res.status).toBe(404);
    expect(fake.calls).toContain('get elsewhere');
  });

  it('closes the shared connection when the app closes, after everything on it', async () => {
    const connection = app.get<Redis>(REDIS);
    await app.close();
    closed = true;
    await waitFor('the connection closed', () => connection.status === 'end');
  });
});
