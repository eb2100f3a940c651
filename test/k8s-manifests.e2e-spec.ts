import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { load, loadAll } from 'js-yaml';

const ROOT = join(__dirname, '..');
const K8S = join(ROOT, 'deploy/k8s');
const VALIDATOR = join(__dirname, 'support/k8s-validate.mjs');
const ALERTS = join(ROOT, 'deploy/prometheus/alerts.yml');

/** What the manifests are written for (README, "Run on Kubernetes"); kubectl 1.32 is on the machine. */
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

type Obj = Record<string, any>;

/**
 * `kubectl kustomize deploy/k8s`, parsed. No cluster here: rendering and schema validation are
 * what can be checked. kubectl missing is a failure with the way out, not a skip.
 */
function render(): Obj[] {
  const r = spawnSync(KUBECTL, ['kustomize', K8S], { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    throw new Error(
      `kubectl was not found (${KUBECTL}): this test renders deploy/k8s with \`kubectl kustomize\`. ` +
        'Install kubectl 1.32 (https://kubernetes.io/docs/tasks/tools/), or set KUBECTL to its path.',
    );
  if (r.status !== 0) throw new Error(`kubectl kustomize deploy/k8s failed:\n${r.stderr}`);
  return (loadAll(r.stdout) as Obj[]).filter(Boolean);
}

/** Env var names an app reads: every `env.<reader>('NAME'…)` in its config code and the libs'. */
function namesReadBy(app: 'gateway' | 'sender-worker'): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ts$/.test(entry) && !/\.(int-)?spec\.ts$/.test(entry))
        for (const m of readFileSync(path, 'utf8').matchAll(/\benv\.\w+\(\s*'([A-Z][A-Z0-9_]*)'/g))
          names.add(m[1]);
    }
  };
  walk(join(ROOT, 'apps', app, 'src'));
  walk(join(ROOT, 'libs'));
  return names;
}

function mebibytes(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!m) throw new Error(`memory quantity ${quantity}: write it in Mi or Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('Kubernetes manifests (deploy/k8s)', () => {
  let objects: Obj[];
  const of = (kind: string) => objects.filter((o) => o.kind === kind);
  const named = (kind: string, name: string) => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name} in the rendered manifests`);
    return found;
  };
  const deployments = () => of('Deployment');
  const containersOf = (d: Obj): Obj[] => d.spec.template.spec.containers;
  const worker = () => named('Deployment', 'wa-worker');
  /** The settings a container gets from its ConfigMaps and literal env values. */
  const configData = (container: Obj): Record<string, string> => {
    const data: Record<string, string> = {};
    for (const from of container.envFrom ?? [])
      if (from.configMapRef) Object.assign(data, named('ConfigMap', from.configMapRef.name).data);
    for (const e of container.env ?? []) if (e.value !== undefined) data[e.name] = e.value;
    return data;
  };

  beforeAll(() => {
    objects = render();
  });

  it('renders, and every object validates against its schema (Kubernetes 1.32, Prometheus Operator)', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
      expect.arrayContaining([
        'Deployment/wa-gateway',
        'Service/wa-gateway',
        'PodDisruptionBudget/wa-gateway',
        'Deployment/wa-worker',
        'PodDisruptionBudget/wa-worker',
        'Secret/wa-gateway-secrets',
        'ServiceMonitor/wa-gateway',
        'PodMonitor/wa-worker',
      ]),
    );
    const r = spawnSync(process.execPath, [VALIDATOR], {
      input: JSON.stringify(objects),
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`the schema validator failed:\n${r.stderr}`);
    const results = JSON.parse(r.stdout) as { kind: string; name: string; error: string | null }[];
    expect(results).toHaveLength(objects.length);
    expect(results.filter((x) => x.error)).toEqual([]);
  });

  it('puts every namespaced object in the wa-gateway namespace', () => {
    for (const o of objects.filter((x) => x.kind !== 'Namespace'))
      expect([`${o.kind}/${o.metadata.name}`, o.metadata.namespace]).toEqual([
        `${o.kind}/${o.metadata.name}`,
        'wa-gateway',
      ]);
  });

  it('gives every container probes on the health routes, resources and a non-root, locked-down context', () => {
    for (const d of deployments()) {
      const pod = d.spec.template.spec;
      for (const c of containersOf(d)) {
        const where = `${d.metadata.name}/${c.name}`;
        const portNames = new Set((c.ports ?? []).map((p: Obj) => p.name));
        for (const [probe, path] of [
          ['startupProbe', '/healthz'],
          ['livenessProbe', '/healthz'],
          ['readinessProbe', '/readyz'],
        ]) {
          expect([where, probe, c[probe]?.httpGet?.path]).toEqual([where, probe, path]);
          expect([where, probe, portNames.has(c[probe].httpGet.port)]).toEqual([
            where,
            probe,
            true,
          ]);
        }
        expect([where, c.resources?.requests?.cpu]).toEqual([where, expect.any(String)]);
        const requested = mebibytes(c.resources.requests.memory);
        const limit = mebibytes(c.resources.limits.memory);
        expect([where, limit >= requested]).toEqual([where, true]);
        const nonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
        expect([where, nonRoot, pod.securityContext?.runAsUser]).toEqual([where, true, 1000]);
        expect([where, c.securityContext?.allowPrivilegeEscalation]).toEqual([where, false]);
        expect([where, c.securityContext?.capabilities?.drop]).toEqual([where, ['ALL']]);
        expect([where, c.securityContext?.readOnlyRootFilesystem]).toEqual([where, true]);
      }
    }
  });

  it('gives a stopping worker longer than SEND_TIMEOUT_MS + SHUTDOWN_GRACE_MS to hand its sessions over', () => {
    const c = containersOf(worker())[0];
    const config = configData(c);
    const sendTimeoutMs = Number(config.SEND_TIMEOUT_MS);
    const shutdownGraceMs = Number(config.SHUTDOWN_GRACE_MS);
    expect(sendTimeoutMs).toBeGreaterThan(0);
    expect(shutdownGraceMs).toBeGreaterThan(0);
    expect(worker().spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      sendTimeoutMs + shutdownGraceMs,
    );
    // The hand-over is the worker's own SIGTERM handler: nothing may stand before it that
    // could eat the grace period.
    expect(c.lifecycle?.preStop).toBeUndefined();
  });

  it('sizes the worker by the rule: 300 MiB + WORKER_MAX_SESSIONS x a budget above BROWSER_MEMORY_LIMIT_MB', () => {
    const c = containersOf(worker())[0];
    const config = configData(c);
    const sessions = Number(config.WORKER_MAX_SESSIONS);
    const browserLimitMb = Number(config.BROWSER_MEMORY_LIMIT_MB);
    expect(sessions).toBeGreaterThan(0);
    // 0 would turn recycling off: the kernel would be the one to stop a growing browser.
    expect(browserLimitMb).toBeGreaterThan(0);
    // The per-session budget (700 MiB) is above the recycling threshold, with room for growth
    // between two memory probes; the limit is exactly the rule's.
    const perSessionBudgetMb = 700;
    expect(browserLimitMb).toBeLessThan(perSessionBudgetMb);
    expect(mebibytes(c.resources.limits.memory)).toBe(300 + sessions * perSessionBudgetMb);
  });

  it('runs the worker as Kubernetes needs it: probes on its metrics port, profiles on a volume, auth in Redis, the Chromium seccomp profile', () => {
    const pod = worker().spec.template.spec;
    const c = containersOf(worker())[0];
    const config = configData(c);
    const metricsPort = c.ports.find((p: Obj) => p.name === 'metrics').containerPort;
    expect(String(metricsPort)).toBe(config.WORKER_METRICS_PORT);
    expect(config.SESSION_STORE).toBe('redis');
    const mounts = new Map<string, string>(
      c.volumeMounts.map((m: Obj) => [m.mountPath as string, m.name as string]),
    );
    const volumes = new Map<string, Obj>(pod.volumes.map((v: Obj) => [v.name as string, v]));
    // whatsapp-web.js's web version cache lives under SESSION_DATA_DIR (the driver sets its path).
    for (const path of [config.SESSION_DATA_DIR, '/tmp', '/home/node']) {
      const volume = volumes.get(mounts.get(path) ?? '');
      expect([path, volume && Object.keys(volume).includes('emptyDir')]).toEqual([path, true]);
    }
    expect(c.securityContext.seccompProfile).toEqual({
      type: 'Localhost',
      localhostProfile: 'wa-gateway/chromium-seccomp.json',
    });
    // The pod's pause process reaps orphaned Chromium processes (docker-compose's `init: true`).
    expect(pod.shareProcessNamespace).toBe(true);
  });

  it('names only env vars the apps read, and only Secret and ConfigMap keys that exist', () => {
    const readers = {
      gateway: namesReadBy('gateway'),
      'sender-worker': namesReadBy('sender-worker'),
    };
    expect(readers.gateway.has('API_KEYS')).toBe(true);
    expect(readers['sender-worker'].has('SEND_TIMEOUT_MS')).toBe(true);
    const secret = named('Secret', 'wa-gateway-secrets');
    const secretKeys = new Set(Object.keys({ ...secret.data, ...secret.stringData }));
    for (const d of deployments()) {
      for (const c of containersOf(d)) {
        const app = c.name as keyof typeof readers;
        expect(Object.keys(readers)).toContain(app);
        const names: string[] = [];
        for (const e of c.env ?? []) {
          names.push(e.name);
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) {
            expect(ref.name).toBe('wa-gateway-secrets');
            expect([e.name, secretKeys.has(ref.key)]).toEqual([e.name, true]);
          }
        }
        for (const from of c.envFrom ?? []) {
          if (from.secretRef) throw new Error(`${c.name}: name each secret key (secretKeyRef)`);
          names.push(...Object.keys(named('ConfigMap', from.configMapRef.name).data ?? {}));
        }
        const unread = names.filter((n) => !readers[app].has(n));
        expect([c.name, unread]).toEqual([c.name, []]);
      }
    }
    for (const m of [...of('ServiceMonitor'), ...of('PodMonitor')])
      for (const ep of m.spec.endpoints ?? m.spec.podMetricsEndpoints) {
        expect(ep.authorization.credentials.name).toBe('wa-gateway-secrets');
        expect(secretKeys.has(ep.authorization.credentials.key)).toBe(true);
      }
  });

  it('uses exactly the images kustomization.yaml sets, one per app', () => {
    const kustomization = load(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as Obj;
    const set = new Map<string, string>(
      kustomization.images.map((i: Obj) => [i.name as string, `${i.newName}:${i.newTag}`]),
    );
    expect(
      Object.fromEntries(
        deployments().flatMap((d) => containersOf(d).map((c) => [c.name, c.image as string])),
      ),
    ).toEqual({
      gateway: set.get('wa-gateway-gateway'),
      'sender-worker': set.get('wa-gateway-sender-worker'),
    });
  });

  it('connects Services, disruption budgets and monitors to the pods they mean', () => {
    const podsOf = (selector: Record<string, string>) =>
      deployments().filter((d) => matches(selector, d.spec.template.metadata.labels));
    for (const d of deployments())
      expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
    for (const s of of('Service')) {
      const [target] = podsOf(s.spec.selector);
      expect([s.metadata.name, target?.metadata.name]).toEqual([s.metadata.name, 'wa-gateway']);
      const portNames = containersOf(target).flatMap((c) => c.ports.map((p: Obj) => p.name));
      for (const p of s.spec.ports) expect(portNames).toContain(p.targetPort);
    }
    for (const pdb of of('PodDisruptionBudget'))
      expect(podsOf(pdb.spec.selector.matchLabels).map((d) => d.metadata.name)).toEqual([
        pdb.metadata.name,
      ]);

    // The job names Prometheus gives them are those the shipped alerts expect (WaTargetDown).
    const alerts = readFileSync(ALERTS, 'utf8');
    const jobs = /up\{job=~"([^"]+)"\}/.exec(alerts)![1].split('|').sort();
    const monitored: string[] = [];
    const sm = named('ServiceMonitor', 'wa-gateway');
    const services = of('Service').filter((s) =>
      matches(sm.spec.selector.matchLabels, s.metadata.labels),
    );
    expect(services.map((s) => s.metadata.name)).toEqual(['wa-gateway-metrics']);
    // Not-ready pods (Redis down) must still be scraped: that is when wa_redis_up is 0.
    expect(services[0].spec.publishNotReadyAddresses).toBe(true);
    monitored.push(services[0].metadata.labels[sm.spec.jobLabel]);
    const pm = named('PodMonitor', 'wa-worker');
    const [workers] = podsOf(pm.spec.selector.matchLabels);
    expect(workers.metadata.name).toBe('wa-worker');
    const workerPorts = containersOf(workers).flatMap((c) => c.ports.map((p: Obj) => p.name));
    for (const ep of pm.spec.podMetricsEndpoints) expect(workerPorts).toContain(ep.port);
    monitored.push(workers.spec.template.metadata.labels[pm.spec.jobLabel]);
    expect(monitored.sort()).toEqual(jobs);
  });
});
