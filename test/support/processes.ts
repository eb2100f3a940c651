import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './redis-server';
import { waitFor } from './wait-for';

const ROOT = join(__dirname, '..', '..');

/**
 * One real process started with its npm script (`npm run start:gateway` / `start:worker`), in
 * its own process group so a signal reaches npm, its shell and node alike, as an orchestrator's
 * would.
 */
export class AppProcess {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly proc: ChildProcess;

  constructor(
    script: string,
    env: NodeJS.ProcessEnv,
    readonly name: string,
  ) {
    this.proc = spawn('npm', ['run', '--silent', script], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString());
      if (this.output.length > 2000) this.output.splice(0, 1000);
      if (process.env.E2E_VERBOSE) process.stderr.write(`[${name}] ${chunk.toString()}`);
    };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Signals the whole process group. */
  signal(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, sig);
    } catch {
      /* already gone */
    }
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGKILL');
    await this.exited;
  }

  /** The node process npm started (the deepest descendant), as an orchestrator would signal it. */
  appPid(): number {
    let pid = this.pid;
    for (;;) {
      let children: string[] = [];
      try {
        children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean);
      } catch {
        return pid;
      }
      if (children.length === 0) return pid;
      pid = Number(children[0]);
    }
  }

  /**
   * SIGTERM to the app, then SIGKILL to the group if it has not exited after `graceMs`.
   * Resolves with the exit code, which npm passes on from the app.
   */
  async stop(graceMs = 15000): Promise<number | null> {
    if (!this.running) return this.proc.exitCode;
    try {
      process.kill(this.appPid(), 'SIGTERM');
    } catch {
      /* gone */
    }
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  logs(): string {
    return this.output.join('');
  }
}

export interface SystemEnv {
  redisUrl: string;
  prefix: string;
  apiKey: string;
  extra?: NodeJS.ProcessEnv;
}

export async function startGateway(
  env: SystemEnv,
  port?: number,
): Promise<{ proc: AppProcess; url: string }> {
  const p = port ?? (await freePort());
  const proc = new AppProcess(
    'start:gateway',
    {
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: env.prefix,
      API_KEYS: env.apiKey,
      PORT: String(p),
      HOST: '127.0.0.1',
      DEFAULT_DRIVER: 'simulator',
      LOG_LEVEL: 'warn',
      ...env.extra,
    },
    'gateway',
  );
  const url = `http://127.0.0.1:${p}`;
  await waitFor(
    'the gateway to answer /healthz',
    async () => {
      if (!proc.running) throw new Error(`gateway exited: ${proc.logs()}`);
      const res = await fetch(`${url}/healthz`).catch(() => null);
      return res?.ok ?? false;
    },
    20000,
    100,
  );
  return { proc, url };
}

export function startWorker(env: SystemEnv, workerId: string): AppProcess {
  return new AppProcess(
    'start:worker',
    {
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: env.prefix,
      WORKER_ID: workerId,
      LOG_LEVEL: 'warn',
      // Several workers share this host: no metrics server unless a test gives each its port.
      WORKER_METRICS_PORT: '0',
      ...env.extra,
    },
    workerId,
  );
}
