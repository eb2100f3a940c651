import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** `npm start` (scripts/start-local.js) on a private prefix and port, its output kept. */
export class LocalStart {
  readonly out: string[] = [];
  private readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(env: NodeJS.ProcessEnv, args: string[] = []) {
    this.proc = spawn(process.execPath, [join(ROOT, 'scripts', 'start-local.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (c: Buffer) => this.out.push(c.toString()));
    this.proc.stderr!.on('data', (c: Buffer) => this.out.push(c.toString()));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }

  text(): string {
    return this.out.join('');
  }

  /** SIGTERM (start-local stops its children), SIGKILL to the group if it hangs. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(-this.proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 30000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
