import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server';
import { waitFor } from './wait-for';

/**
 * A real Redis Cluster of three masters on free loopback ports (redis-cli --cluster create),
 * for tests of the system on a cluster; stopped and removed by stop().
 */
export class RedisCluster {
  private readonly procs: ChildProcess[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'wa-cluster-'));
  ports: number[] = [];

  static async start(): Promise<RedisCluster> {
    const c = new RedisCluster();
    await c.launch();
    return c;
  }

  get nodes(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  private async launch(): Promise<void> {
    this.ports = [await freePort(), await freePort(), await freePort()];
    for (const port of this.ports) {
      this.procs.push(
        spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--dir',
            this.dir,
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--save',
            '',
            '--appendonly',
            'no',
            '--maxmemory-policy',
            'noeviction',
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of this.ports) {
      await waitFor(
        `redis ${port}`,
        () =>
          spawnSync('redis-cli', ['-p', String(port), 'ping'], {
            encoding: 'utf8',
          }).stdout.trim() === 'PONG',
        10000,
        50,
      );
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...this.nodes, '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8' },
    );
    if (create.status !== 0)
      throw new Error(`cluster create failed: ${create.stdout}${create.stderr}`);
    for (const port of this.ports) {
      await waitFor(
        `cluster state ok on ${port}`,
        () =>
          /cluster_state:ok/.test(
            spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' })
              .stdout,
          ),
        20000,
        100,
      );
    }
  }

  stop(): void {
    for (const p of this.procs) p.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
