import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server';
import { waitFor } from './wait-for';

/** Debian's package installs it here (`.ci/run` installs the package when it is missing). */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

export interface ScrapeJob {
  name: string;
  /** host:port of each target. */
  targets: string[];
  /** Sent as `Authorization: Bearer …` (METRICS_API_KEY). */
  bearer?: string;
}

/** One sample of an instant query: its labels and value. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/**
 * A real Prometheus server on a free port, with a temporary data directory and a generated
 * scrape config (1 s scrape and evaluation intervals), queried over its HTTP API.
 */
export class PrometheusServer {
  private constructor(
    readonly url: string,
    private readonly proc: ChildProcess,
    private readonly dir: string,
    private readonly output: string[],
  ) {}

  static async start(jobs: ScrapeJob[], ruleFiles: string[] = []): Promise<PrometheusServer> {
    const dir = mkdtempSync(join(tmpdir(), 'wa-prometheus-'));
    const port = await freePort();
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      ...(ruleFiles.length
        ? ['rule_files:', ...ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)]
        : []),
      'scrape_configs:',
      ...jobs.flatMap((j) => [
        `  - job_name: ${JSON.stringify(j.name)}`,
        ...(j.bearer
          ? ['    authorization:', `      credentials: ${JSON.stringify(j.bearer)}`]
          : []),
        '    static_configs:',
        `      - targets: ${JSON.stringify(j.targets)}`,
      ]),
    ].join('\n');
    writeFileSync(join(dir, 'prometheus.yml'), `${config}\n`);
    const output: string[] = [];
    const proc = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const spawned = new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (err) =>
        reject(
          new Error(`cannot start ${PROMETHEUS_BIN} (apt-get install prometheus): ${err.message}`),
        ),
      );
    });
    proc.stdout.on('data', (c: Buffer) => output.push(c.toString()));
    proc.stderr.on('data', (c: Buffer) => output.push(c.toString()));
    await spawned;
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, proc, dir, output);
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (proc.exitCode !== null) throw new Error(`prometheus exited: ${output.join('')}`);
        const res = await fetch(`${server.url}/-/ready`).catch(() => null);
        return res?.ok ?? false;
      },
      20000,
      100,
    );
    return server;
  }

  /** An instant query; throws on a PromQL error. */
  async query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: {
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      };
    };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The single value of a query that aggregates to one sample (null when it has none). */
  async value(promql: string): Promise<number | null> {
    const samples = await this.query(promql);
    return samples.length === 1 ? samples[0].value : null;
  }

  /** Polls until `promql`'s single value equals `expected` (scrapes come every second). */
  async waitForValue(promql: string, expected: number, timeoutMs = 20000): Promise<void> {
    let last: number | null = null;
    try {
      await waitFor(
        `${promql} == ${expected}`,
        async () => {
          last = await this.value(promql);
          return last === expected;
        },
        timeoutMs,
        250,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last value: ${last}`);
    }
  }

  logs(): string {
    return this.output.join('');
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
