import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisAnswers } from './redis-server';
import { waitFor } from './wait-for';

/** One redis-server process of the set (primary or replica, AOF always), or a Sentinel. */
async function launch(args: string[], port: number, procs: ChildProcess[]): Promise<ChildProcess> {
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  // Tracked before it answers, so a launch that fails is stopped with the rest.
  procs.push(proc);
  await waitFor(`redis-server on ${port}`, () => redisAnswers(port), 10000, 50);
  return proc;
}

/**
 * A primary, one replica and one Sentinel (quorum 1) on free loopback ports: what REDIS_URL
 * `redis+sentinel://…` points at in production, small enough for a test.
 */
export class RedisSentinelSet {
  static readonly MASTER = 'wa-primary';
  private readonly procs: ChildProcess[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'wa-sentinel-'));
  readonly ports: { primary: number; replica: number; sentinel: number } = {
    primary: 0,
    replica: 0,
    sentinel: 0,
  };

  static async start(): Promise<RedisSentinelSet> {
    const set = new RedisSentinelSet();
    try {
      await set.launchAll();
    } catch (err) {
      // Nothing of a half-started set is left behind (processes, folder).
      await set.stop();
      throw err;
    }
    return set;
  }

  /** The URL the apps are given. */
  get url(): string {
    return `redis+sentinel://127.0.0.1:${this.ports.sentinel}/${RedisSentinelSet.MASTER}`;
  }

  private server(port: number, name: string, extra: string[] = []): string[] {
    // One folder, files named per server.
    return [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--dbfilename',
      `${name}.rdb`,
      '--appendfilename',
      `${name}.aof`,
      '--appenddirname',
      `${name}-aof`,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--maxmemory-policy',
      'noeviction',
      ...extra,
    ];
  }

  private async launchAll(): Promise<void> {
    this.ports.primary = await freePort();
    this.ports.replica = await freePort();
    this.ports.sentinel = await freePort();
    await launch(this.server(this.ports.primary, 'primary'), this.ports.primary, this.procs);
    await launch(
      this.server(this.ports.replica, 'replica', [
        '--replicaof',
        '127.0.0.1',
        String(this.ports.primary),
      ]),
      this.ports.replica,
      this.procs,
    );
    const conf = join(this.dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${this.ports.sentinel}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${RedisSentinelSet.MASTER} 127.0.0.1 ${this.ports.primary} 1`,
        `sentinel down-after-milliseconds ${RedisSentinelSet.MASTER} 1000`,
        `sentinel failover-timeout ${RedisSentinelSet.MASTER} 10000`,
        '',
      ].join('\n'),
    );
    await launch([conf, '--sentinel'], this.ports.sentinel, this.procs);
    // The Sentinel knows the replica once it has asked the primary (INFO every 10 s at first).
    await waitFor(
      'the Sentinel to know the replica',
      async () => {
        const replicas = (await this.sentinelCommand(
          'REPLICAS',
          RedisSentinelSet.MASTER,
        )) as string[][];
        return replicas.some(
          (r) => r.includes(String(this.ports.replica)) && r.join(' ').includes('slave'),
        );
      },
      20000,
      200,
    );
  }

  async sentinelCommand(...args: string[]): Promise<unknown> {
    const s = new Redis({ host: '127.0.0.1', port: this.ports.sentinel, maxRetriesPerRequest: 1 });
    try {
      return await s.call('SENTINEL', ...args);
    } finally {
      s.disconnect();
    }
  }

  /** The port of the server the Sentinel names as primary now. */
  async primaryPort(): Promise<number> {
    const addr = (await this.sentinelCommand(
      'GET-MASTER-ADDR-BY-NAME',
      RedisSentinelSet.MASTER,
    )) as string[];
    return Number(addr[1]);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
