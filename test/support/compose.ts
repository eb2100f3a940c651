import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerCli } from './compose-engine';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the test sends while Docker kills). */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // From the repository root, as the README says: Compose v1 resolves the seccomp profile's
    // relative path against the working directory, not the compose file (docker/compose#8470).
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const ROOT = join(__dirname, '..', '..');

/**
 * Removes what an interrupted earlier run left on the engine (its data root is kept between
 * runs): containers (their `restart: unless-stopped` would start them again with the engine),
 * volumes and networks of every `wae2e…` project.
 */
export async function removeLeftovers(env: NodeJS.ProcessEnv): Promise<void> {
  const list = async (args: string[]) =>
    (await run(dockerCli(), args, env, 60000)).stdout.split('\n').filter(Boolean);
  const containers = await list(['ps', '-aq', '--filter', 'name=wae2e']);
  if (containers.length > 0) await run(dockerCli(), ['rm', '-f', ...containers], env, 120000);
  const volumes = await list(['volume', 'ls', '-q', '--filter', 'name=wae2e']);
  if (volumes.length > 0) await run(dockerCli(), ['volume', 'rm', '-f', ...volumes], env, 120000);
  const networks = await list(['network', 'ls', '-q', '--filter', 'name=wae2e']);
  if (networks.length > 0) await run(dockerCli(), ['network', 'rm', ...networks], env, 120000);
}

/**
 * `env` without any variable the compose file reads (every name in .env.example), so a setting
 * exported in the developer's shell cannot change what is tested either; the test then sets
 * what it needs.
 */
export function withoutComposeSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const names = new Set(
    [
      ...readFileSync(join(ROOT, '.env.example'), 'utf8').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm),
    ].map((m) => m[1]),
  );
  return Object.fromEntries(Object.entries(env).filter(([k]) => !names.has(k)));
}

const tail = (text: string, lines = 30) => text.trimEnd().split('\n').slice(-lines).join('\n');

/**
 * One Compose project (Debian's docker-compose 1.29, the file at the repository root) on one
 * engine, driven as a user would from the command line: its own project name, so its
 * containers, network and volumes are its own.
 */
export class ComposeProject {
  private readonly file = join(ROOT, 'docker-compose.yml');
  /**
   * An empty file given to Compose as its `--env-file`: the developer's own `.env` (README, step
   * 1) must not leak settings into the test (WORKER_MAX_SESSIONS=1, GATEWAY_BIND=0.0.0.0, ...).
   * Compose v1 takes no /dev/null there. Removed by dispose().
   */
  private readonly envDir = mkdtempSync(join(tmpdir(), 'wa-compose-env-'));
  private readonly envFile = join(this.envDir, 'empty.env');

  constructor(
    readonly name: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    writeFileSync(this.envFile, '');
  }

  /** Removes the project's scratch files (its containers go with `down`). */
  dispose(): void {
    rmSync(this.envDir, { recursive: true, force: true });
  }

  /** `docker-compose -p <name> -f docker-compose.yml <args>`; throws with its output on failure. */
  async compose(args: string[], timeoutMs = 300000): Promise<string> {
    const r = await run(
      'docker-compose',
      ['--env-file', this.envFile, '-p', this.name, '-f', this.file, ...args],
      this.env,
      timeoutMs,
    );
    if (r.code !== 0)
      throw new Error(
        `docker-compose ${args.join(' ')} failed (exit ${r.code}):\n${tail(r.stdout + r.stderr)}`,
      );
    return r.stdout;
  }

  /** The docker CLI on the same engine (kill, start, inspect, exec). */
  async docker(args: string[], timeoutMs = 60000): Promise<string> {
    const r = await run(dockerCli(), args, this.env, timeoutMs);
    if (r.code !== 0)
      throw new Error(
        `docker ${args.join(' ')} failed (exit ${r.code}):\n${tail(r.stdout + r.stderr)}`,
      );
    return r.stdout;
  }

  /** Container ids of a service, running or not. */
  async containers(service: string): Promise<string[]> {
    const out = await this.compose(['ps', '-q', service], 60000);
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  /** `docker inspect` of one container. */
  async inspect(id: string): Promise<{ hostname: string; running: boolean; status: string }> {
    const [c] = JSON.parse(await this.docker(['inspect', id])) as {
      Config: { Hostname: string };
      State: { Running: boolean; Status: string };
    }[];
    return { hostname: c.Config.Hostname, running: c.State.Running, status: c.State.Status };
  }

  /** Processes of a container whose command line names Chromium (from `docker top`). */
  async chromiumProcesses(id: string): Promise<string[]> {
    const out = await this.docker(['top', id, '-eo', 'pid,stat,args']);
    return out
      .split('\n')
      .slice(1)
      .filter((l) => {
        // A zombie (STAT Z) is already dead, waiting to be reaped: not a running browser.
        const [, stat = '', ...args] = l.trim().split(/\s+/);
        return !stat.startsWith('Z') && /chromium/.test(args.join(' '));
      });
  }

  /** The last lines of every service's log, for a failure's report. */
  async logs(lines = 60): Promise<string> {
    const r = await run(
      'docker-compose',
      [
        '--env-file',
        this.envFile,
        '-p',
        this.name,
        '-f',
        this.file,
        'logs',
        '--no-color',
        '--tail',
        String(lines),
      ],
      this.env,
      60000,
    );
    return r.stdout + r.stderr;
  }
}
