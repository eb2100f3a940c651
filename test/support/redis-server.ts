import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A free TCP port on loopback, as the OS hands it out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * A private redis-server on a free port, for tests that must kill or restart Redis. AOF with
 * `appendfsync always`, as production is advised to run, so a restart keeps what was
 * acknowledged.
 */
export class RedisServer {
  private proc: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'wa-redis-'));

  private constructor(readonly port: number) {}

  static async start(opts: { aof?: boolean } = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    server.aof = opts.aof ?? true;
    await server.launch();
    return server;
  }

  private aof = true;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async launch(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
    ];
    if (this.aof) args.push('--appendonly', 'yes', '--appendfsync', 'always');
    this.proc = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 10000;
    while (!(await redisAnswers(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not start on ${this.port}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether a Redis (or a Sentinel) on loopback `port` answers PING now. */
export async function redisAnswers(port: number): Promise<boolean> {
  const r = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** The Redis the test run shares (scripts/test.js starts one); each test uses its own prefix. */
export function sharedRedisUrl(): string {
  return process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

let counter = 0;
/** A QUEUE_PREFIX no other test (or run) uses. */
export function uniquePrefix(name: string): string {
  return `t-${name}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** Deletes every key of a test's prefix (SCAN, never KEYS: the shared Redis holds other runs). */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (found.length) await redis.unlink(...found);
    cursor = next;
  } while (cursor !== '0');
}
