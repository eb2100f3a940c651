import { ApiClient } from './api-client';
import { AppProcess, startGateway, startWorker, type SystemEnv } from './processes';
import { freePort, sharedRedisUrl, uniquePrefix } from './redis-server';
import { waitFor } from './wait-for';

export const TEST_API_KEY = 'e2e-key-0123456789abcdef';

/** A gateway and workers on one prefix: the whole system as users run it. */
export class TestSystem {
  gateway!: { proc: AppProcess; url: string };
  readonly workers = new Map<string, AppProcess>();
  /** `GET /metrics` of each worker started with {@link startMeteredWorker}. */
  readonly workerMetricsUrls = new Map<string, string>();
  api!: ApiClient;
  readonly env: SystemEnv;

  private readonly meteredWorkers: boolean;

  /** `workerMetrics`: every worker serves /metrics on a free port of its own. */
  constructor(
    name: string,
    opts: { redisUrl?: string; extra?: NodeJS.ProcessEnv; workerMetrics?: boolean } = {},
  ) {
    this.meteredWorkers = opts.workerMetrics ?? false;
    this.env = {
      redisUrl: opts.redisUrl ?? sharedRedisUrl(),
      prefix: uniquePrefix(name),
      apiKey: TEST_API_KEY,
      extra: { SESSION_LEASE_MS: '3000', ...opts.extra },
    };
  }

  async start(workerIds: string[] = ['worker-a']): Promise<this> {
    this.gateway = await startGateway(this.env);
    this.api = new ApiClient(this.gateway.url, this.env.apiKey);
    await waitFor(
      'the gateway to reach Redis',
      async () => (await fetch(`${this.gateway.url}/readyz`)).status === 200,
      20000,
      100,
    );
    for (const id of workerIds) {
      if (this.meteredWorkers) await this.startMeteredWorker(id);
      else this.startWorker(id);
    }
    return this;
  }

  startWorker(id: string, extra: NodeJS.ProcessEnv = {}): AppProcess {
    const proc = startWorker({ ...this.env, extra: { ...this.env.extra, ...extra } }, id);
    this.workers.set(id, proc);
    return proc;
  }

  /** A worker with its metrics server on a free port (WORKER_METRICS_PORT), on 127.0.0.1. */
  async startMeteredWorker(id: string, extra: NodeJS.ProcessEnv = {}): Promise<AppProcess> {
    const port = await freePort();
    this.workerMetricsUrls.set(id, `http://127.0.0.1:${port}/metrics`);
    return this.startWorker(id, {
      WORKER_METRICS_PORT: String(port),
      WORKER_METRICS_HOST: '127.0.0.1',
      ...extra,
    });
  }

  async restartGateway(): Promise<void> {
    const port = Number(new URL(this.gateway.url).port);
    await this.gateway.proc.kill();
    this.gateway = await startGateway(this.env, port);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.kill()));
    await this.gateway?.proc.kill();
  }

  /** Creates a simulator session and waits until it is ready. */
  async readySession(id: string, extra: Record<string, unknown> = {}): Promise<void> {
    const res = await this.api.createSession(id, extra);
    if (res.status !== 201)
      throw new Error(`create ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    await this.waitForStatus(id, 'ready');
  }

  async waitForStatus(id: string, status: string, timeoutMs = 15000): Promise<any> {
    return waitFor(
      `session ${id} to be ${status}`,
      async () => {
        const s = await this.api.get(`/api/sessions/${id}`);
        return s.body?.status === status ? s.body : null;
      },
      timeoutMs,
    );
  }

  async waitForMessage(id: string, statuses: string[], timeoutMs = 15000): Promise<any> {
    return waitFor(
      `message ${id} to be ${statuses.join('|')}`,
      async () => {
        const m = await this.api.get(`/api/messages/${id}`);
        return statuses.includes(m.body?.status) ? m.body : null;
      },
      timeoutMs,
    );
  }

  async outbox(
    sessionId: string,
  ): Promise<{ messageId: string; waMessageId: string; to: string; text: string; at: string }[]> {
    const res = await this.api.get(`/api/sessions/${sessionId}/simulator/outbox`);
    return res.body.messages;
  }
}
