import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PrometheusServer, PROMTOOL_BIN } from './support/prometheus';
import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';

const ROOT = join(__dirname, '..');
const ALERTS = join(ROOT, 'deploy/prometheus/alerts.yml');
const ALERT_TESTS = join(ROOT, 'deploy/prometheus/alerts.test.yml');
const EXAMPLE_CONFIG = join(ROOT, 'deploy/prometheus/prometheus.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/wa-gateway.json');

const METRICS_KEY = 'metrics-key-0123456789abcdef';
const NOT_ON_WHATSAPP = '15559990000';
const SESSIONS = ['mx-a', 'mx-b'];

const hostPort = (url: string) => new URL(url).host;

/** `wa_…` names a text mentions (PromQL in the alerts and the dashboard). */
function waNames(text: string): Set<string> {
  return new Set(text.match(/\bwa_[a-z0-9_]+/g) ?? []);
}

/** Metric names a scrape declares (`# TYPE name kind`), with the series names histograms add. */
function declaredNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const m of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_count', '_sum']) names.add(m[1] + s);
  }
  return names;
}

/**
 * The gateway and two workers, scraped by Debian's real Prometheus (1 s interval) with the
 * METRICS_API_KEY as a bearer token; messages sent, failed and cancelled through the API; the
 * answers read back with PromQL. Prometheus missing is a failure, not a skip.
 */
describe('metrics, scraped by a real Prometheus', () => {
  const sys = new TestSystem('metrics', {
    workerMetrics: true,
    extra: { METRICS_API_KEY: METRICS_KEY },
  });
  let prom: PrometheusServer;
  const scrapeUrls = () => [`${sys.gateway.url}/metrics`, ...sys.workerMetricsUrls.values()];

  beforeAll(async () => {
    await sys.start(['worker-a', 'worker-b']);
    prom = await PrometheusServer.start(
      [
        { name: 'wa-gateway', targets: [hostPort(sys.gateway.url)], bearer: METRICS_KEY },
        {
          name: 'wa-worker',
          targets: [...sys.workerMetricsUrls.values()].map(hostPort),
          bearer: METRICS_KEY,
        },
      ],
      [ALERTS],
    );
  }, 90000);

  afterAll(async () => {
    await prom?.stop();
    await sys.stop();
  }, 30000);

  it('scrapes the gateway and both workers (up == 1) and loads the shipped alert rules', async () => {
    await prom.waitForValue('count(up == 1)', 3);
    expect(await prom.value('count(up)')).toBe(3);
    const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string }[] }[] };
    };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name)).toEqual(
      expect.arrayContaining(['WaSessionDown', 'WaQueuePaused', 'WaRedisUnreachable']),
    );
    await waitFor('every rule evaluated without error', async () => {
      const r = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as typeof rules;
      const all = r.data.groups.flatMap((g) => g.rules);
      return all.length === loaded.length && all.every((x) => x.health === 'ok');
    });
  });

  it('asks for METRICS_API_KEY (bearer, basic password or X-Api-Key) on the gateway and the workers', async () => {
    for (const url of scrapeUrls()) {
      const none = await fetch(url);
      expect(none.status).toBe(401);
      expect(await none.json()).toEqual({
        error: { code: 'UNAUTHORIZED', message: expect.any(String) },
      });
      expect(
        (await fetch(url, { headers: { authorization: 'Bearer wrong-key-0123456789' } })).status,
      ).toBe(401);
      const basic = `Basic ${Buffer.from(`prometheus:${METRICS_KEY}`).toString('base64')}`;
      const forms: Record<string, string>[] = [
        { authorization: `Bearer ${METRICS_KEY}` },
        { authorization: basic },
        { 'x-api-key': METRICS_KEY },
      ];
      for (const headers of forms) {
        const res = await fetch(url, { headers });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('text/plain');
        expect(await res.text()).toContain('# TYPE wa_redis_up gauge');
      }
    }
  });

  it("serves the workers' probes beside /metrics, without the key (what a kubelet calls)", async () => {
    for (const url of sys.workerMetricsUrls.values()) {
      for (const probe of ['/healthz', '/readyz']) {
        const res = await fetch(url.replace(/\/metrics$/, probe));
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ status: 'ok' });
      }
    }
  });

  it('counts what happened to messages exactly once across the fleet, and PromQL says so', async () => {
    for (const id of SESSIONS)
      await sys.readySession(id, { simulator: { notOnWhatsApp: [NOT_ON_WHATSAPP] } });
    await prom.waitForValue(
      `sum(wa_session_status{status="ready",session=~"mx-a|mx-b"})`,
      SESSIONS.length,
    );

    // mx-a: one POST per message (the first with an Idempotency-Key, then replayed: not
    // accepted twice), and one scheduled an hour ahead, to be cancelled while it waits.
    const ids: string[] = [];
    const post = (body: object, headers: Record<string, string> = {}) =>
      sys.api.post('/api/sessions/mx-a/messages', body, headers);
    const first = await post({ to: '15550001001', text: 'm1' }, { 'idempotency-key': 'mx-k1' });
    expect(first.status).toBe(202);
    ids.push(first.body.id);
    const replay = await post({ to: '15550001001', text: 'm1' }, { 'idempotency-key': 'mx-k1' });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    for (const to of ['15550001002', '15550001003', '15550001004', NOT_ON_WHATSAPP]) {
      const res = await post({ to, text: `to ${to}` });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    const scheduled = await post({
      to: '15550001005',
      text: 'later',
      sendAt: new Date(Date.now() + 3600000).toISOString(),
    });
    expect(scheduled.status).toBe(202);
    // mx-b: one bulk of five.
    const bulk = await sys.api.post('/api/sessions/mx-b/messages/bulk', {
      messages: ['15550002001', '15550002002', '15550002003', '15550002004', NOT_ON_WHATSAPP].map(
        (to) => ({ to, text: `to ${to}` }),
      ),
    });
    expect(bulk.status).toBe(202);
    ids.push(...bulk.body.ids);
    const accepted = ids.length + 1; // + the scheduled one

    // The scheduled message waits in its queue: the owning worker's gauge shows it.
    await prom.waitForValue('sum(wa_session_queue_jobs{state="delayed"})', 1);
    expect((await sys.api.delete(`/api/messages/${scheduled.body.id}`)).status).toBe(200);

    const settled = await Promise.all(
      ids.map((id) => sys.waitForMessage(id, ['sent', 'delivered', 'read', 'failed'], 30000)),
    );
    const sent = settled.filter((m) => m.status !== 'failed').length;
    const failed = settled.filter((m) => m.status === 'failed');
    expect(sent).toBe(8);
    expect(failed.map((m) => m.error.code)).toEqual(['NOT_ON_WHATSAPP', 'NOT_ON_WHATSAPP']);
    // WhatsApp (the simulator) holds exactly the sent ones.
    const outboxes = await Promise.all(SESSIONS.map((s) => sys.outbox(s)));
    expect(outboxes.flat()).toHaveLength(sent);

    await prom.waitForValue('sum(wa_messages_accepted_total)', accepted);
    await prom.waitForValue('sum(wa_messages_sent_total)', sent);
    await prom.waitForValue('sum(wa_messages_cancelled_total)', 1);
    await prom.waitForValue('sum(wa_messages_failed_total{code="NOT_ON_WHATSAPP"})', 2);
    expect(await prom.query('sum by (code) (wa_messages_failed_total)')).toEqual([
      { metric: { code: 'NOT_ON_WHATSAPP' }, value: 2 },
    ]);
    expect(await prom.query('sum by (session) (wa_messages_sent_total)')).toEqual(
      expect.arrayContaining([
        { metric: { session: 'mx-a' }, value: 4 },
        { metric: { session: 'mx-b' }, value: 4 },
      ]),
    );
    // Per session, by the gateway and the workers together: accepted = sent + failed + cancelled.
    for (const session of SESSIONS) {
      const q = (m: string) => `sum(${m}{session="${session}"}) or vector(0)`;
      expect(await prom.value(q('wa_messages_accepted_total'))).toBe(
        (await prom.value(q('wa_messages_sent_total')))! +
          (await prom.value(q('wa_messages_failed_total')))! +
          (await prom.value(q('wa_messages_cancelled_total')))!,
      );
    }

    // The histogram saw every sent message once, and its buckets agree with its count.
    await prom.waitForValue('sum(wa_message_accept_to_sent_seconds_count)', sent);
    expect(await prom.value('sum(wa_message_accept_to_sent_seconds_bucket{le="+Inf"})')).toBe(sent);
    const p50 = await prom.value(
      'histogram_quantile(0.5, sum by (le) (wa_message_accept_to_sent_seconds_bucket))',
    );
    expect(Number.isFinite(p50)).toBe(true);

    // Queues drained and running; both sessions ready, on whichever workers own them.
    await prom.waitForValue('sum(wa_session_queue_jobs{state=~"waiting|active|delayed"})', 0);
    await prom.waitForValue('sum(wa_session_queue_paused)', 0);
    await prom.waitForValue('sum(wa_worker_sessions)', SESSIONS.length);
    expect(await prom.value('sum(wa_session_status{status!="ready"})')).toBe(0);
    expect(await prom.value('max(wa_redis_up)')).toBe(1);
    expect(await prom.value('max(wa_sessions_unowned)')).toBe(0);

    // HTTP requests by matched route: the replay is a 202 too.
    await prom.waitForValue(
      'sum(wa_http_requests_total{method="POST",route="/api/sessions/:id/messages",status="202"})',
      7,
    );
    await prom.waitForValue(
      'sum(wa_http_requests_total{method="POST",route="/api/sessions/:id/messages/bulk",status="202"})',
      1,
    );
  });

  it('keeps message ids, phone numbers and URLs out of every label', async () => {
    for (const url of scrapeUrls()) {
      const text = await (await fetch(url, { headers: { 'x-api-key': METRICS_KEY } })).text();
      const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
      for (const line of samples) {
        expect(line).not.toMatch(/msg_[0-9a-f]{8}/);
        expect(line).not.toMatch(/1555000\d{4}|15559990000|@c\.us/);
        expect(line).not.toMatch(/https?:\/\//);
      }
    }
    const routes = await prom.query('count by (route) (wa_http_requests_total)');
    for (const r of routes) expect(r.metric.route).not.toMatch(/mx-a|mx-b|msg_|\?/);
  });

  it('ships alert rules that promtool accepts and whose unit tests pass', () => {
    for (const args of [
      ['check', 'rules', ALERTS],
      ['test', 'rules', ALERT_TESTS],
      ['check', 'config', EXAMPLE_CONFIG],
    ]) {
      const run = spawnSync(PROMTOOL_BIN, args, { encoding: 'utf8' });
      if (run.error)
        throw new Error(
          `cannot run ${PROMTOOL_BIN} (apt-get install prometheus): ${run.error.message}`,
        );
      expect({
        args,
        status: run.status,
        output: run.status === 0 ? '' : run.stdout + run.stderr,
      }).toEqual({
        args,
        status: 0,
        output: '',
      });
    }
  });

  it('ships a Grafana dashboard and alerts that name only metrics a real scrape declares', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.panels.length).toBeGreaterThan(5);
    for (const p of dashboard.panels) expect(p.targets.length).toBeGreaterThan(0);
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    for (const title of [
      'Sessions by status',
      'Accept → sent latency (p50, p99)',
      'Browser memory by session',
    ])
      expect(dashboard.panels.map((p) => p.title)).toContain(title);

    const declared = new Set<string>();
    for (const url of scrapeUrls()) {
      const text = await (await fetch(url, { headers: { 'x-api-key': METRICS_KEY } })).text();
      for (const n of declaredNames(text)) declared.add(n);
    }
    const used = [...waNames(exprs), ...waNames(readFileSync(ALERTS, 'utf8'))];
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((n) => !declared.has(n))).toEqual([]);
    // Every PromQL of the dashboard parses (Grafana's $variables filled in).
    for (const expr of new Set(dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)))) {
      const promql = expr.replace(/\$__rate_interval|\$__range/g, '1m').replace(/\$session/g, '.*');
      await expect(prom.query(promql)).resolves.toBeDefined();
    }
  });
});
