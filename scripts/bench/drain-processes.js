'use strict';
// The sender worker as a child process of the drain benchmark, and what the benchmark reads of
// Redis and /proc: INFO sections, CLIENT LIST, a process's RSS. The private redis-server and the
// gateway come from ./processes (shared with the enqueue benchmark).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { joinAndExec } = require('./memory-cgroup');
const { cpuTimeMs, freePort, keepOutputTail, sleep, terminate } = require('./processes');

const ROOT = path.join(__dirname, '..', '..');
// BENCH_WORKER_MAIN: another build of the worker (e.g. the previous commit's, for before/after).
const WORKER_MAIN =
  process.env.BENCH_WORKER_MAIN ||
  path.join(ROOT, 'dist/apps/sender-worker/apps/sender-worker/src/main.js');

/** Workers still running: SIGKILLed if this process exits without stopping them. */
const live = new Set();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * The built worker against `redisUrl`/`prefix`. `cpuProfDir` runs it under `node --cpu-prof`
 * (the profile is written when it exits after SIGTERM); `cgroup` (memory-cgroup.js) runs it in
 * that memory cgroup from its start, as in a container with a memory limit.
 */
async function startWorker({
  redisUrl,
  prefix,
  maxSessions,
  cpuProfDir,
  logLevel = 'warn',
  cgroup = null,
}) {
  if (!fs.existsSync(WORKER_MAIN)) {
    throw new Error(`${path.relative(ROOT, WORKER_MAIN)} is missing: run npm run build first`);
  }
  const env = {
    ...process.env,
    NODE_ENV: 'development',
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    WORKER_ID: `bench-worker-${process.pid}`,
    WORKER_MAX_SESSIONS: String(maxSessions),
    WORKER_METRICS_PORT: String(await freePort()),
    WORKER_METRICS_HOST: '127.0.0.1',
    DEFAULT_DRIVER: 'simulator',
    LOG_LEVEL: logLevel,
  };
  const args = cpuProfDir
    ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, WORKER_MAIN]
    : [WORKER_MAIN];
  const [command, argv] = cgroup
    ? joinAndExec(cgroup, process.execPath, args)
    : [process.execPath, args];
  const child = spawn(command, argv, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const output = keepOutputTail(child);
  return {
    pid: child.pid,
    output,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    stop: () => terminate(child, 15000),
    cpuTimeMs: () => cpuTimeMs(child.pid),
    rssMb: () => rssMb(child.pid),
  };
}

/** Resident set size of a process in MB (VmRSS), null when it is gone. */
function rssMb(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
    return kb / 1024;
  } catch {
    return null;
  }
}

/** INFO <section> as a flat object of strings. */
async function info(redis, section) {
  const text = await redis.info(section);
  const out = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Total commands Redis has processed, and per command (`cmdstat_<name>` calls). */
async function commandCounts(redis) {
  const stats = await info(redis, 'commandstats');
  const perCommand = {};
  let total = 0;
  for (const [k, v] of Object.entries(stats)) {
    const calls = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
    perCommand[k.replace(/^cmdstat_/, '')] = calls;
    total += calls;
  }
  return { total, perCommand };
}

/** What happened between two commandCounts(), biggest first. */
function commandDelta(before, after) {
  const out = {};
  for (const [k, v] of Object.entries(after.perCommand)) {
    const d = v - (before.perCommand[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return {
    total: after.total - before.total,
    perCommand: Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1])),
  };
}

/** CLIENT LIST as objects (id, name, laddr, cmd, tot-mem, …). */
async function clientList(redis) {
  const text = await redis.client('LIST');
  return String(text)
    .trim()
    .split('\n')
    .map((line) =>
      Object.fromEntries(
        line
          .trim()
          .split(' ')
          .map((kv) => {
            const i = kv.indexOf('=');
            return [kv.slice(0, i), kv.slice(i + 1)];
          }),
      ),
    );
}

/** Polls `check` every `everyMs` until it returns a truthy value (returned) or `timeoutMs`. */
async function waitFor(what, check, { timeoutMs = 120000, everyMs = 50, worker } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (worker && worker.exited()) {
      throw new Error(`the worker exited while waiting for ${what}:\n${worker.output.join('')}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

module.exports = {
  clientList,
  commandCounts,
  commandDelta,
  info,
  rssMb,
  startWorker,
  waitFor,
};
