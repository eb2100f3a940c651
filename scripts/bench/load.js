'use strict';
// Running N operations with a fixed number in flight, and the figures taken from such a run.
const { performance } = require('node:perf_hooks');

/**
 * Calls task(i) for i in [0, total) with `inFlight` calls running at once. A task resolves
 * true on success, or a reason on failure (a throw is a failure too). Returns wall time, the
 * latency of every call (ms), the failures (with the first distinct reasons, for the report) and the
 * CPU this process spent meanwhile (to tell whether the load generator itself was the limit).
 */
async function runConcurrently(total, inFlight, task) {
  const latencies = new Float64Array(total);
  const failures = { count: 0, samples: [] };
  const noteFailure = (reason) => {
    failures.count++;
    if (failures.samples.length < 3 && !failures.samples.includes(reason))
      failures.samples.push(reason);
  };
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      try {
        const outcome = await task(i);
        if (outcome !== true) noteFailure(outcome || `task ${i} failed`);
      } catch (err) {
        noteFailure(
          err && err.cause
            ? `${err.message}: ${err.cause.message}`
            : String(err && err.message ? err.message : err),
        );
      }
      latencies[i] = performance.now() - t0;
    }
  };
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, lane));
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    total,
    elapsedMs,
    latencies,
    failures,
    cpuMs: { bench: (cpu.user + cpu.system) / 1000 },
  };
}

/**
 * Like runConcurrently, but for a fixed time instead of a fixed count: `inFlight` lanes call
 * task(i) with i = 0, 1, 2… until `durationMs` has passed (calls under way then finish and
 * count). Returns the same figures, with `total` the number of calls made.
 */
async function runFor(durationMs, inFlight, task) {
  const latencies = [];
  const failures = { count: 0, samples: [] };
  const noteFailure = (reason) => {
    failures.count++;
    if (failures.samples.length < 3 && !failures.samples.includes(reason))
      failures.samples.push(reason);
  };
  let next = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const lane = async () => {
    while (performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        const outcome = await task(i);
        if (outcome !== true) noteFailure(outcome || `task ${i} failed`);
      } catch (err) {
        noteFailure(
          err && err.cause
            ? `${err.message}: ${err.cause.message}`
            : String(err && err.message ? err.message : err),
        );
      }
      latencies.push(performance.now() - t0);
    }
  };
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: inFlight }, lane));
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    total: next,
    elapsedMs,
    latencies: Float64Array.from(latencies),
    failures,
    cpuMs: { bench: (cpu.user + cpu.system) / 1000 },
  };
}

/**
 * runConcurrently, plus the CPU time (ms) other processes used meanwhile: `meters` maps a name
 * to a function returning a process's CPU time so far (or null when unknown).
 */
async function runConcurrentlyMetered(meters, total, inFlight, task) {
  return metered(meters, () => runConcurrently(total, inFlight, task));
}

/** runFor, metered as runConcurrentlyMetered. */
async function runForMetered(meters, durationMs, inFlight, task) {
  return metered(meters, () => runFor(durationMs, inFlight, task));
}

async function metered(meters, run) {
  const before = Object.entries(meters).map(([name, read]) => [name, read, read()]);
  const result = await run();
  for (const [name, read, start] of before) {
    const end = read();
    if (start !== null && end !== null) result.cpuMs[name] = end - start;
  }
  return result;
}

/** p in [0, 100], nearest-rank on a sorted copy. */
function percentile(latencies, p) {
  if (latencies.length === 0) return 0;
  const sorted = Float64Array.from(latencies).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

function perSecond(count, elapsedMs) {
  return elapsedMs > 0 ? (count * 1000) / elapsedMs : 0;
}

const round = (x, digits = 0) => Number(x.toFixed(digits));

module.exports = {
  percentile,
  perSecond,
  round,
  runConcurrently,
  runConcurrentlyMetered,
  runFor,
  runForMetered,
};
