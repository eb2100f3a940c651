import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * The process's one Prometheus registry: every metric of the gateway or of a worker registers
 * here, wherever its fact happens (a lib's counter included), and the process's `/metrics`
 * renders it. Module-level on purpose: a counter is incremented where the fact happens, by a
 * one-line call, without threading a registry through every constructor.
 */
export const metricsRegistry = new Registry();

/** Set at scrape time by each process: whether its own Redis connection answers. */
export const redisUpGauge = new Gauge({
  name: 'wa_redis_up',
  help: "1 while this process's Redis connection answers, else 0",
  registers: [metricsRegistry],
});

let processMetricsOn = false;

/**
 * Node's own process metrics (CPU, memory, event loop lag, GC, handles), unprefixed as every
 * Node exporter names them. Called once by each app's entry point: importing a lib starts
 * nothing.
 */
export function startProcessMetrics(): void {
  if (processMetricsOn) return;
  processMetricsOn = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

/** Error codes as label values: UPPER_SNAKE codes from a known list, anything else `OTHER`. */
export function boundedCode(code: string | null | undefined, known: ReadonlySet<string>): string {
  return code && known.has(code) ? code : 'OTHER';
}
