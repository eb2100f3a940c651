import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { metricsRegistry } from '@app/core';

/**
 * GATEWAY_WORKERS > 1: the gateway as a node:cluster of processes sharing one port, so it uses
 * more than one core (one process is CPU-bound on one core under load; see README,
 * Benchmarks). Every process is a whole gateway: the state they share (counts, idempotency
 * keys, throttles, the event stream) is in Redis already, as for replicas on several hosts;
 * each process has its own event-stream hub for its own `GET /api/events` clients.
 *
 * What is per process is the Prometheus registry. A scrape lands on one process, which asks
 * the primary for the sum over all processes (prom-client's aggregation: counters and
 * histograms add up, each metric's `aggregator` decides otherwise), minus the fleet gauges it
 * has just read from Redis itself: those would otherwise add up, or come stale from processes
 * that were not scraped.
 */

/** How long the primary waits for every process's metrics before answering with those it has. */
const COLLECT_TIMEOUT_MS = 2000;
/** How long a scrape waits for the primary's answer. */
const AGGREGATE_TIMEOUT_MS = 5000;
/** A process that dies is replaced after this (a crash loop stays slow). */
const RESPAWN_DELAY_MS = 1000;
/** After SIGTERM, processes not gone by then are killed. */
const STOP_GRACE_MS = 10000;

type ClusterMessage =
  | { wa: 'metrics-request'; id: number; omit: string[] }
  | { wa: 'metrics-collect'; id: number }
  | { wa: 'metrics-collected'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] }
  | { wa: 'metrics-reply'; id: number; text?: string; error?: string };

function isClusterMessage(m: unknown): m is ClusterMessage {
  return typeof m === 'object' && m !== null && typeof (m as { wa?: unknown }).wa === 'string';
}

/** Whether this process is one of several gateway processes (GATEWAY_WORKERS > 1). */
export function inGatewayCluster(): boolean {
  return cluster.isWorker;
}

/**
 * The primary: forks `workers` gateway processes (each runs main.ts's bootstrap), replaces one
 * that dies, stops them all on SIGTERM/SIGINT, and aggregates their metrics for a scrape.
 * `env` is added to every process's environment (the API key made once, here).
 */
export function runPrimary(workers: number, env: NodeJS.ProcessEnv, log: (line: string) => void) {
  let stopping = false;
  const fork = () => cluster.fork(env);
  for (let i = 0; i < workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    log(`gateway process ${worker.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(fork, RESPAWN_DELAY_MS).unref();
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    if (alive.length === 0) process.exit(0);
    for (const w of alive) w.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }, STOP_GRACE_MS).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  // Metrics: a scrape's process asks; every process answers with its registry as JSON.
  let nextCollect = 0;
  const collecting = new Map<number, (m: ClusterMessage & { wa: 'metrics-collected' }) => void>();
  cluster.on('message', (worker, message: unknown) => {
    if (!isClusterMessage(message)) return;
    if (message.wa === 'metrics-collected') collecting.get(message.id)?.(message);
    if (message.wa !== 'metrics-request') return;
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    const id = ++nextCollect;
    const parts: MetricObjectWithValues<MetricValue<string>>[][] = [];
    const answer = () => {
      collecting.delete(id);
      clearTimeout(timer);
      try {
        const registry = AggregatorRegistry.aggregate(parts);
        for (const name of message.omit) registry.removeSingleMetric(name);
        void registry.metrics().then(
          (text) => reply(worker, { wa: 'metrics-reply', id: message.id, text }),
          (err: Error) =>
            reply(worker, { wa: 'metrics-reply', id: message.id, error: err.message }),
        );
      } catch (err) {
        reply(worker, { wa: 'metrics-reply', id: message.id, error: (err as Error).message });
      }
    };
    const timer = setTimeout(answer, COLLECT_TIMEOUT_MS);
    collecting.set(id, (m) => {
      parts.push(m.metrics);
      if (parts.length === alive.length) answer();
    });
    for (const w of alive) reply(w, { wa: 'metrics-collect', id });
  });
}

function reply(worker: Worker, message: ClusterMessage): void {
  if (worker.isConnected()) worker.send(message);
}

let pending: Map<number, { resolve: (text: string) => void; reject: (e: Error) => void }> | null =
  null;
let nextRequest = 0;

/** In a gateway process of a cluster: answers the primary's collection of metrics. */
export function serveClusterMetrics(): void {
  if (!cluster.isWorker || pending) return;
  pending = new Map();
  process.on('message', (message: unknown) => {
    if (!isClusterMessage(message)) return;
    if (message.wa === 'metrics-collect') {
      void metricsRegistry
        .getMetricsAsJSON()
        .then((metrics) => process.send?.({ wa: 'metrics-collected', id: message.id, metrics }));
    } else if (message.wa === 'metrics-reply') {
      const waiting = pending!.get(message.id);
      pending!.delete(message.id);
      if (!waiting) return;
      if (message.text !== undefined) waiting.resolve(message.text);
      else waiting.reject(new Error(message.error ?? 'no metrics'));
    }
  });
}

/**
 * The metrics of every process of the cluster, aggregated by the primary, without the metrics
 * named in `omit` (the caller renders those itself).
 */
export function clusterMetrics(omit: string[]): Promise<string> {
  if (!pending) throw new Error('serveClusterMetrics() was not called in this process');
  const id = ++nextRequest;
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending!.delete(id);
      reject(new Error('the gateway primary did not answer with the metrics'));
    }, AGGREGATE_TIMEOUT_MS);
    pending!.set(id, {
      resolve: (text) => {
        clearTimeout(timer);
        resolve(text);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    process.send?.({ wa: 'metrics-request', id, omit });
  });
}
