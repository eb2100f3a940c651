'use strict';
// Running N operations with a fixed number in flight, and the figures taken from such a run.
const { performance } = require('node:perf_hooks');

/**
 * Lanes that call task(i) while `more()` says so, `inFlight` of them at once; each call's latency
 * is handed to `record(i, ms)`. A task resolves true on success, or a reason on failure (a throw
 * is a failure too). Returns the calls made, wall time, the failures (with the first distinct
 * reasons, for the report) and the CPU this process spent meanwhile (to tell whether the load
 * generator itself was the limit).
 */
async function runLanes(inFlight, more, task, record) {
  const failures = { count: 0, samples: [] };
  const noteFailure = (reason) => {
    failures.count++;
    if (failures.samples.length < 3 && !failures.samples.includes(reason))
      failures.samples.push(reason);
  };
  let next = 0;
  const lane = async () => {
    while (more(next)) {
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
      record(i, performance.now() - t0);
    }
  };
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return { total: next, elapsedMs, failures, cpuMs: { bench: (cpu.user + cpu.system) / 1000 } };
}

/** Calls task(i) for i in [0, total) with `inFlight` calls running at once (see runLanes). */
async function runConcurrently(total, inFlight, task) {
  const latencies = new Float64Array(total);
  const run = await runLanes(
    Math.min(inFlight, total),
    (next) => next < total,
    task,
    (i, ms) => (latencies[i] = ms),
  );
  return { ...run, total, latencies };
}

/**
 * Like runConcurrently, but for a fixed time instead of a fixed count: `inFlight` lanes call
 * task(i) with i = 0, 1, 2… until `durationMs` has passed (calls under way then finish and
 * count). Returns the same figures, with `total` the number of calls made.
 */
async function runFor(durationMs, inFlight, task) {
  const latencies = [];
  const deadline = performance.now() + durationMs;
  const run = await runLanes(
    inFlight,
    () => performance.now() < deadline,
    task,
    (_i, ms) => latencies.push(ms),
  );
  return { ...run, latencies: Float64Array.from(latencies) };
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
