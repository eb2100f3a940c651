import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { ApiClient } from './support/api-client';
import { ComposeProject, removeLeftovers, withoutComposeSettings } from './support/compose';
import {
  ensureBaseImages,
  ensureHostPackages,
  useDockerd,
  type BaseImages,
  type Engine,
} from './support/compose-engine';
import { freePort } from './support/redis-server';
import { waitFor } from './support/wait-for';

/**
 * docker-compose.yml as a user runs it, on this machine: Debian's docker-compose 1.29 on a
 * private dockerd, the project's real Dockerfiles built on local Debian bases (no image registry
 * is reachable here: NODE_IMAGE / REDIS_IMAGE / PROMETHEUS_IMAGE point at them), two workers.
 * Every check goes through the gateway's published port (or Prometheus's); Docker is used only
 * to kill, start and look at processes, as an operator (or a crash) would.
 *
 * Slow by nature (a cold first build takes minutes): each phase prints how long it took.
 */
const ROOT = join(__dirname, '..');
const API_KEY = 'compose-e2e-key-0123456789';
const METRICS_KEY = 'compose-metrics-key-0123456789';
const SESSIONS = ['cmp-a', 'cmp-b', 'cmp-c', 'cmp-d'];
const HELD = 'cmp-held';
const TO = '15551234567';
const MINUTE = 60000;

const started = Date.now();
const timings: [string, number][] = [];
function log(line: string) {
  process.stderr.write(`[compose e2e] ${line}\n`);
}
async function phase<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    const s = (Date.now() - t0) / 1000;
    timings.push([name, s]);
    log(`${name}: ${s.toFixed(1)} s`);
  }
}

interface Session {
  id: string;
  status: string;
  worker: string | null;
  lastError: { code: string; message: string } | null;
}
interface OutboxEntry {
  messageId: string;
}

describe('docker compose: build, scale, crash, restart, browser, metrics', () => {
  let engine: Engine | undefined;
  let project: ComposeProject | undefined;
  let bases: BaseImages;
  let api: ApiClient;
  let gatewayPort: number;
  let prometheusPort: number;
  let failed = false;
  /** Messages queued with a far sendAt before `down`; checked sent at the end. */
  let held: { ids: string[]; sendAt: number } | undefined;

  const compose = () => project!;

  async function workerContainers(): Promise<{ id: string; hostname: string; running: boolean }[]> {
    const ids = await compose().containers('sender-worker');
    return Promise.all(ids.map(async (id) => ({ id, ...(await compose().inspect(id)) })));
  }

  async function liveWorkers(): Promise<string[]> {
    const r = await api.get<{ workers: { id: string }[] }>('/api/workers');
    return r.status === 200 ? r.body.workers.map((w) => w.id) : [];
  }

  async function session(id: string): Promise<Session> {
    const r = await api.get<Session>(`/api/sessions/${id}`);
    if (r.status !== 200) throw new Error(`GET /api/sessions/${id}: ${r.status}`);
    return r.body;
  }

  async function outbox(id: string): Promise<string[]> {
    const r = await api.get<{ messages: OutboxEntry[] }>(`/api/sessions/${id}/simulator/outbox`);
    if (r.status !== 200) throw new Error(`outbox of ${id}: ${r.status}`);
    return r.body.messages.map((m) => m.messageId);
  }

  /** `up -d` with two workers, then waits until the API answers and both workers joined. */
  async function up() {
    await compose().compose(['up', '-d', '--scale', 'sender-worker=2'], 10 * MINUTE);
    await waitFor(
      'the gateway ready on its published port',
      async () => {
        const r = await fetch(`http://127.0.0.1:${gatewayPort}/readyz`);
        return r.ok;
      },
      3 * MINUTE,
      500,
    );
    await waitFor(
      'two live workers',
      async () => (await liveWorkers()).length === 2,
      3 * MINUTE,
      500,
    );
  }

  beforeAll(async () => {
    await phase('host packages', () => ensureHostPackages(log));
    engine = await phase('engine start', () => useDockerd(log));
    const dockerEnv = { ...withoutComposeSettings(process.env), ...engine.env };
    await phase('leftovers', () => removeLeftovers(dockerEnv));
    bases = await phase('base images', () => ensureBaseImages(dockerEnv, log));
    gatewayPort = await freePort();
    prometheusPort = await freePort();
    const name = `wae2e${process.pid}${Date.now().toString(36)}`;
    project = new ComposeProject(name, {
      ...dockerEnv,
      // The legacy builder: Debian's engine has no buildx.
      DOCKER_BUILDKIT: '0',
      COMPOSE_DOCKER_CLI_BUILD: '0',
      NODE_IMAGE: bases.node,
      REDIS_IMAGE: bases.redis,
      PROMETHEUS_IMAGE: bases.prometheus,
      // Fixed names (not per project): the next run's build starts from these layers.
      GATEWAY_IMAGE: 'wa-e2e/gateway:latest',
      WORKER_IMAGE: 'wa-e2e/sender-worker:latest',
      API_KEYS: API_KEY,
      METRICS_API_KEY: METRICS_KEY,
      DEFAULT_DRIVER: 'simulator',
      QUEUE_PREFIX: `wa-compose-${process.pid}`,
      GATEWAY_PORT: String(gatewayPort),
      PROMETHEUS_PORT: String(prometheusPort),
      // A killed worker's sessions are adopted within seconds, not the default 15 s.
      SESSION_LEASE_MS: '5000',
      LOG_LEVEL: 'info',
    });
    api = new ApiClient(`http://127.0.0.1:${gatewayPort}`, API_KEY);
    await phase('build', () => compose().compose(['build'], 30 * MINUTE));
    await phase('up --scale sender-worker=2', up);
  }, 45 * MINUTE);

  afterAll(async () => {
    try {
      if (project) {
        if (failed) log(`logs after a failure:\n${await project.logs(80)}`);
        await phase('down -v', () =>
          project!.compose(['--profile', 'metrics', 'down', '-v', '--remove-orphans'], 5 * MINUTE),
        );
        // The engine's data root is kept as the build cache; images a rebuild replaced (dangling)
        // would pile up in it run after run.
        await project.docker(['image', 'prune', '-f'], 5 * MINUTE).catch(() => undefined);
      }
    } finally {
      project?.dispose();
      await engine?.stop();
      const total = (Date.now() - started) / 1000;
      log(
        `times: ${timings.map(([n, s]) => `${n} ${s.toFixed(0)} s`).join(', ')}; total ${total.toFixed(0)} s`,
      );
    }
  }, 10 * MINUTE);

  /** Marks the run failed (for the log dump) whatever the assertion. */
  async function step<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  }

  it(
    '(a) spreads simulator sessions over both worker containers',
    () =>
      step(() =>
        phase('check a: sessions spread', async () => {
          for (const id of SESSIONS) {
            const r = await api.createSession(id, { simulator: { sendLatencyMs: 40 } });
            expect(r.status).toBe(201);
          }
          const ready = await waitFor(
            'four ready sessions',
            async () => {
              const all = await Promise.all(SESSIONS.map(session));
              return all.every((s) => s.status === 'ready' && s.worker) ? all : null;
            },
            2 * MINUTE,
            250,
          );
          const workers = new Set(ready.map((s) => s.worker!));
          expect(workers.size).toBe(2);
          // Each worker names itself hostname-pid; the hostname of a replica is its container's.
          const hostnames = (await workerContainers()).map((c) => c.hostname).sort();
          expect([...workers].map((w) => w.replace(/-\d+$/, '')).sort()).toEqual(hostnames);
        }),
      ),
    5 * MINUTE,
  );

  it(
    '(b) sends every accepted message exactly once while a worker and then Redis are SIGKILLed',
    () =>
      step(() =>
        phase('check b: kills', async () => {
          const accepted = new Map<string, string[]>(SESSIONS.map((s) => [s, []]));
          const answers = new Map<string, number>();
          /** Request ids of answers other than 202 and 503, to find their log lines. */
          const unexpected: string[] = [];
          let stop = false;
          let batch = 0;
          // A steady stream of bulk requests, one session after the other, until told to stop.
          // A steady stream of bulk requests, as a careful client sends them: each with an
          // Idempotency-Key, and on 503 (Redis down, or gone while storing: outcome unknown) or
          // 409 (the key's first try still pending) the same request again with the same key,
          // until it is answered 202. So a message stored by a request whose answer was lost is
          // accepted by its retry, with the same id, and exactly once can be checked strictly.
          let pending: {
            id: string;
            messages: { to: string; text: string }[];
            key: string;
          } | null = null;
          const sendOne = async (): Promise<void> => {
            const current = pending ?? {
              id: SESSIONS[batch % SESSIONS.length],
              messages: Array.from({ length: 5 }, (_, i) => ({ to: TO, text: `b${batch}-${i}` })),
              key: `compose-b-${batch}`,
            };
            if (!pending) batch++;
            let status = 'network error';
            try {
              const r = await api.post<{ ids: string[] }>(
                `/api/sessions/${current.id}/messages/bulk`,
                { messages: current.messages },
                { 'idempotency-key': current.key },
              );
              status = String(r.status);
              if (r.status === 202) {
                // A replayed answer repeats ids already counted.
                const ids = accepted.get(current.id)!;
                for (const mid of r.body.ids) if (!ids.includes(mid)) ids.push(mid);
                pending = null;
              } else {
                pending = current;
                if (r.status !== 503 && r.status !== 409)
                  unexpected.push(r.headers.get('x-request-id') ?? '?');
              }
            } catch {
              pending = current;
            }
            answers.set(status, (answers.get(status) ?? 0) + 1);
          };
          const stream = (async () => {
            while (!stop) {
              await sendOne();
              await new Promise((r) => setTimeout(r, 50));
            }
            // The last request's outcome must be known too: retried until answered.
            const deadline = Date.now() + 2 * MINUTE;
            while (pending && Date.now() < deadline) {
              await new Promise((r) => setTimeout(r, 500));
              await sendOne();
            }
          })();
          const sentSoFar = async () =>
            (await Promise.all(SESSIONS.map(outbox))).reduce((n, o) => n + o.length, 0);

          try {
            await waitFor('40 messages sent', async () => (await sentSoFar()) >= 40, MINUTE, 200);

            // A worker container SIGKILLed mid-stream: its sessions move to the other one.
            const victim = (await session(SESSIONS[0])).worker!;
            const containers = await workerContainers();
            const victimContainer = containers.find((c) => victim.startsWith(`${c.hostname}-`))!;
            await compose().docker(['kill', '-s', 'KILL', victimContainer.id]);
            log(`SIGKILLed worker container ${victimContainer.hostname}`);
            await waitFor(
              'every session ready on the surviving worker',
              async () => {
                const all = await Promise.all(SESSIONS.map(session));
                return all.every((s) => s.status === 'ready' && s.worker && s.worker !== victim);
              },
              2 * MINUTE,
              250,
            );
            const afterWorkerKill = await sentSoFar();
            await waitFor(
              'more messages sent after the adoption',
              async () => (await sentSoFar()) > afterWorkerKill + 20,
              MINUTE,
              200,
            );
            // `docker kill` turns the restart policy off for that container; a crash would not.
            // Started again like its policy would after a crash: it rejoins as a new worker.
            await compose().docker(['start', victimContainer.id]);
            log(`started worker container ${victimContainer.hostname} again`);
            await waitFor(
              'two live workers again',
              async () =>
                (await api.get<{ workers: unknown[] }>('/api/workers')).body.workers.length === 2,
              MINUTE,
              250,
            );

            // The Redis container SIGKILLed with a backlog: 503 meanwhile, then everything resumes.
            const [redis] = await compose().containers('redis');
            await compose().docker(['kill', '-s', 'KILL', redis]);
            log('SIGKILLed the Redis container');
            const during = await waitFor(
              'a 503 from the gateway while Redis is down',
              async () => {
                const r = await api.post(`/api/sessions/${SESSIONS[1]}/messages`, {
                  to: TO,
                  text: 'during outage',
                });
                answers.set(String(r.status), (answers.get(String(r.status)) ?? 0) + 1);
                if (r.status === 202)
                  accepted.get(SESSIONS[1])!.push((r.body as { id: string }).id);
                return r.status === 503 ? r : null;
              },
              30000,
              100,
            );
            expect(during.body).toMatchObject({ error: { code: expect.any(String) } });
            const readyz = await fetch(`http://127.0.0.1:${gatewayPort}/readyz`);
            expect(readyz.status).toBe(503);
            await compose().docker(['start', redis]);
            await waitFor(
              'the gateway accepting again',
              async () => (await fetch(`http://127.0.0.1:${gatewayPort}/readyz`)).ok,
              2 * MINUTE,
              250,
            );
            const backAt = batch;
            await waitFor(
              'more accepted batches after the outage',
              async () => batch > backAt + 8 && (answers.get('202') ?? 0) > 0,
              MINUTE,
              100,
            );
          } finally {
            stop = true;
            await stream;
          }
          log(`answers: ${JSON.stringify(Object.fromEntries(answers))}`);
          expect(answers.get('503')).toBeGreaterThan(0);
          if (unexpected.length > 0) {
            const gatewayLog = await compose().compose(['logs', '--no-color', 'gateway'], MINUTE);
            const lines = gatewayLog
              .split('\n')
              .filter((l) => unexpected.some((id) => l.includes(id)));
            log(`gateway log of the unexpected answers:\n${lines.join('\n')}`);
          }
          // Only 202 (stored), 503 (Redis down) and 409 (a retry while its first try is pending):
          // never a 500, and every request ended answered 202.
          expect([...answers.keys()].filter((k) => !['202', '409', '503'].includes(k))).toEqual([]);
          expect(pending).toBeNull();

          await waitFor(
            'every accepted message sent',
            async () => {
              for (const id of SESSIONS) {
                const sent = new Set(await outbox(id));
                if (accepted.get(id)!.some((m) => !sent.has(m))) return false;
              }
              return true;
            },
            3 * MINUTE,
            500,
          );
          let total = 0;
          for (const id of SESSIONS) {
            const sent = await outbox(id);
            total += sent.length;
            // Exactly once: no id twice, nothing that was not accepted.
            expect(new Set(sent).size).toBe(sent.length);
            expect([...sent].sort()).toEqual([...accepted.get(id)!].sort());
          }
          log(`${total} messages sent exactly once over ${SESSIONS.length} sessions`);
        }),
      ),
    12 * MINUTE,
  );

  it(
    '(c) keeps queued messages over `docker-compose down` (without -v) and `up`',
    () =>
      step(() =>
        phase('check c: down/up', async () => {
          expect((await api.createSession(HELD)).status).toBe(201);
          await waitFor(
            'the held session ready',
            async () => (await session(HELD)).status === 'ready',
            MINUTE,
            250,
          );
          // Held by a sendAt past the time down and up take here; sent at the end of the suite.
          const sendAt = Date.now() + 60000;
          const r = await api.post<{ ids: string[] }>(`/api/sessions/${HELD}/messages/bulk`, {
            messages: Array.from({ length: 3 }, (_, i) => ({
              to: TO,
              text: `held-${i}`,
              sendAt: new Date(sendAt).toISOString(),
            })),
          });
          expect(r.status).toBe(202);
          held = { ids: r.body.ids, sendAt };

          await compose().compose(['down'], 5 * MINUTE);
          expect(await compose().containers('gateway')).toEqual([]);
          await up();
          for (const id of held.ids) {
            const m = await api.get<{ status: string }>(`/api/messages/${id}`);
            expect({ id, status: m.status, message: m.body.status }).toEqual({
              id,
              status: 200,
              message: 'queued',
            });
          }
          expect(Date.now()).toBeLessThan(sendAt);
          expect(await outbox(HELD)).toEqual([]);
        }),
      ),
    10 * MINUTE,
  );

  it(
    '(d) a wwebjs session starts Chromium in the worker container and fails only on the network',
    () =>
      step(() =>
        phase('check d: wwebjs in the container', async () => {
          const created = await api.post('/api/sessions', { id: 'cmp-browser', driver: 'wwebjs' });
          expect(created.status).toBe(201);
          const failedStart = await waitFor(
            'the wwebjs session to fail its start',
            async () => {
              const s = await session('cmp-browser');
              return s.lastError?.code === 'START_FAILED' ? s : null;
            },
            4 * MINUTE,
            500,
          );
          expect((await api.delete('/api/sessions/cmp-browser')).status).toBe(202);
          await waitFor(
            'the wwebjs session stopped and purged',
            // DELETE stops the session, then purges it: 404 once gone.
            async () => {
              const r = await api.get<Session>('/api/sessions/cmp-browser');
              return r.status === 404 || r.body.status === 'stopped';
            },
            2 * MINUTE,
            250,
          );
          const leftovers = await waitFor(
            'no Chromium process left in either worker container',
            async () => {
              const containers = (await workerContainers()).filter((c) => c.running);
              const procs = (
                await Promise.all(containers.map((c) => compose().chromiumProcesses(c.id)))
              ).flat();
              return procs.length === 0 ? { containers: containers.length } : null;
            },
            MINUTE,
            500,
          );
          expect(leftovers.containers).toBe(2);
          // The reason it failed, checked last so that the leftover check runs either way.
          log(`wwebjs session: ${failedStart.status} ${failedStart.lastError!.message}`);
          // A browser that started and could not reach WhatsApp: net::ERR_…; a browser that died
          // (no usable sandbox) says "Target closed" instead.
          expect(failedStart.lastError!.message).toMatch(/net::ERR_[A-Z_]+/);
          expect(failedStart.lastError!.message).not.toMatch(/Target closed|No usable sandbox/i);
        }),
      ),
    8 * MINUTE,
  );

  it(
    '(e) the metrics profile: Prometheus scrapes the gateway and both workers and loads the alert rules',
    () =>
      step(() =>
        phase('check e: metrics profile', async () => {
          await compose().compose(
            ['--profile', 'metrics', 'up', '-d', '--no-deps', 'prometheus'],
            5 * MINUTE,
          );
          const prom = `http://127.0.0.1:${prometheusPort}`;
          type Up = { metric: { job: string; instance: string }; value: [number, string] };
          const ups = await waitFor(
            'Prometheus: gateway and two workers up',
            async () => {
              const r = await fetch(`${prom}/api/v1/query?query=up`);
              if (!r.ok) return null;
              const result = ((await r.json()) as { data: { result: Up[] } }).data.result;
              const upBy = (job: string) =>
                result.filter((s) => s.metric.job === job && s.value[1] === '1').length;
              return upBy('wa-gateway') === 1 && upBy('wa-worker') === 2 ? result : null;
            },
            3 * MINUTE,
            1000,
          );
          // Two distinct worker addresses: each replica scraped, found through Compose's DNS.
          expect(
            new Set(ups.filter((s) => s.metric.job === 'wa-worker').map((s) => s.metric.instance))
              .size,
          ).toBe(2);

          const alerts = load(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
            groups: { rules: { alert: string }[] }[];
          };
          const expected = alerts.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
          const rules = (await (await fetch(`${prom}/api/v1/rules`)).json()) as {
            data: { groups: { rules: { name: string; health: string }[] }[] };
          };
          const loaded = rules.data.groups.flatMap((g) => g.rules);
          expect(loaded.map((r) => r.name).sort()).toEqual(expected);
          expect(loaded.filter((r) => r.health === 'err')).toEqual([]);
        }),
      ),
    6 * MINUTE,
  );

  it('(e) Grafana (no image here): its provisioning files have the documented shape and match the compose file', () => {
    // Grafana cannot run on this machine (no registry, not in Debian): the files are checked
    // against Grafana's provisioning format and against where docker-compose.yml mounts them.
    const compose = load(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { volumes?: string[]; profiles?: string[] }>;
    };
    const grafana = compose.services.grafana;
    expect(grafana.profiles).toEqual(['metrics']);
    const mounts = new Map(grafana.volumes!.map((v) => [v.split(':')[1], v.split(':')[0]]));
    expect(mounts.get('/etc/grafana/provisioning')).toBe('./deploy/grafana/provisioning');

    const ds = load(
      readFileSync(join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as {
      apiVersion: number;
      datasources: {
        name: string;
        type: string;
        access: string;
        url: string;
        isDefault: boolean;
      }[];
    };
    expect(ds.apiVersion).toBe(1);
    expect(ds.datasources).toEqual([
      expect.objectContaining({
        type: 'prometheus',
        access: 'proxy',
        url: 'http://prometheus:9090',
        isDefault: true,
      }),
    ]);

    const dash = load(
      readFileSync(join(ROOT, 'deploy/grafana/provisioning/dashboards/wa-gateway.yml'), 'utf8'),
    ) as {
      apiVersion: number;
      providers: { name: string; type: string; options: { path: string } }[];
    };
    expect(dash.apiVersion).toBe(1);
    expect(dash.providers).toHaveLength(1);
    const [provider] = dash.providers;
    expect(provider).toMatchObject({ type: 'file', name: expect.any(String) });
    // The folder the provider reads holds the dashboard the compose file mounts there.
    const dashboardMount = [...mounts].find(([target]) =>
      target.startsWith(`${provider.options.path}/`),
    );
    expect(dashboardMount?.[1]).toBe('./deploy/grafana/wa-gateway.json');
    const board = JSON.parse(
      readFileSync(join(ROOT, 'deploy/grafana/wa-gateway.json'), 'utf8'),
    ) as {
      uid: string;
      templating: { list: { type: string; query: string }[] };
    };
    expect(board.uid).toBeTruthy();
    // The dashboard picks a Prometheus data source through a variable: the provisioned one fits.
    expect(board.templating.list).toContainEqual(
      expect.objectContaining({ type: 'datasource', query: 'prometheus' }),
    );
  });

  it(
    '(c) then sends the messages held over down/up, once each, when their time comes',
    () =>
      step(() =>
        phase('check c: held messages sent', async () => {
          expect(held).toBeDefined();
          await waitFor(
            'the held messages sent',
            async () => {
              const sent = await outbox(HELD);
              return held!.ids.every((id) => sent.includes(id));
            },
            Math.max(held!.sendAt - Date.now(), 0) + 2 * MINUTE,
            1000,
          );
          const sent = await outbox(HELD);
          expect([...sent].sort()).toEqual([...held!.ids].sort());
        }),
      ),
    5 * MINUTE,
  );
});
