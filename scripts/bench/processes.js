'use strict';
// Child processes of the benchmark (a private redis-server, the built gateway) and the
// cleanup that stops them whatever happens: normal end, error, SIGINT/SIGTERM.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Redis } = require('ioredis');

const ROOT = path.join(__dirname, '..', '..');
// BENCH_GATEWAY_MAIN: another build's gateway (an A/B comparison against an older commit).
const GATEWAY_MAIN =
  process.env.BENCH_GATEWAY_MAIN || path.join(ROOT, 'dist/apps/gateway/apps/gateway/src/main.js');

/** Stop functions of everything still running; run in reverse order by stopEverything(). */
const running = new Set();
/** Children still alive, so a synchronous 'exit' handler can SIGKILL them as a last resort. */
const children = new Set();

function trackChild(child, stop) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  running.add(stop);
  return () => {
    running.delete(stop);
    return stop();
  };
}

async function stopEverything() {
  for (const stop of [...running].reverse()) {
    running.delete(stop);
    await stop().catch(() => undefined);
  }
}

/** SIGINT/SIGTERM stop the children before exiting; 'exit' SIGKILLs whatever is left. */
function installCleanupHandlers() {
  const onSignal = (signal) => {
    process.stderr.write(`\n${signal}: stopping redis-server and gateway…\n`);
    stopEverything().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => {
    for (const child of children) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** SIGTERM, then SIGKILL after graceMs; resolves once the child has exited. */
function terminate(child, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function assertRedisServerInstalled() {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0) {
    throw new Error(
      'redis-server is not installed (Debian/Ubuntu: apt-get install -y redis-server)',
    );
  }
}

/** Persistence flags: 'off' (no RDB, no AOF), 'always' / 'everysec' (AOF with that fsync policy). */
function persistenceArgs(persistence) {
  if (persistence === 'off') return ['--appendonly', 'no'];
  return ['--appendonly', 'yes', '--appendfsync', persistence];
}

async function waitForRedis(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const probe = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      /* not listening yet */
    } finally {
      probe.disconnect();
    }
    if (Date.now() > deadline)
      throw new Error(`redis-server did not answer within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A private redis-server on a free loopback port, in its own temp dir (removed on stop). */
async function startRedis(persistence) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-bench-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    ...persistenceArgs(persistence),
  ];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const stop = trackChild(child, async () => {
    await terminate(child, 2000);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitForRedis(url, child, 10000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, persistence, stop, cpuTimeMs: () => cpuTimeMs(child.pid) };
}

/** GET /healthz until it answers 200 (the gateway is listening and booted). */
async function waitForHealthy(baseUrl, child, output, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`gateway exited with code ${child.exitCode}:\n${output.join('')}`);
    }
    try {
      const res = await fetch(`${baseUrl}/healthz`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline)
      throw new Error(`gateway /healthz not 200 within ${timeoutMs} ms:\n${output.join('')}`);
    await sleep(100);
  }
}

/** GET on a connection of its own (so node:cluster may hand it to any gateway process). */
function statusOnNewConnection(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
  });
}

/**
 * /readyz (Redis reachable) answered 200 `times` times in a row on fresh connections: with
 * several gateway processes, each of them is ready (connections are handed out in turn).
 */
async function waitForReady(baseUrl, times, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let inARow = 0;
  while (inARow < times) {
    if (Date.now() > deadline) throw new Error(`gateway /readyz not 200 within ${timeoutMs} ms`);
    if ((await statusOnNewConnection(`${baseUrl}/readyz`)) === 200) inARow++;
    else {
      inARow = 0;
      await sleep(50);
    }
  }
}

let clockTicksPerSecond;

function ticksToMs(ticks) {
  if (clockTicksPerSecond === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clockTicksPerSecond = Number(r.stdout) || 100;
  }
  return (ticks * 1000) / clockTicksPerSecond;
}

/** CPU time (user + system, ms) a process has used so far, from /proc; null off Linux. */
function cpuTimeMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)" start at field 3 (state); utime is field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ticksToMs(Number(fields[11]) + Number(fields[12]));
  } catch {
    return null;
  }
}

/** Pids of a process's children, from /proc (every thread's children file); [] off Linux. */
function childPids(pid) {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((tid) =>
        fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/),
      )
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU time (ms) of a process and its live descendants: the gateway in cluster mode is a primary
 * and its workers. A worker that exited mid-phase is not counted (none should).
 */
function treeCpuTimeMs(pid) {
  const own = cpuTimeMs(pid);
  if (own === null) return null;
  return childPids(pid).reduce((sum, child) => sum + (treeCpuTimeMs(child) ?? 0), own);
}

/**
 * CPU time (ms, summed over all cores) the machine's processes have spent so far (user, nice,
 * system, and steal by the hypervisor), from /proc/stat; null off Linux. Interrupt time is left
 * out: loopback networking is accounted there, and it is the benchmark's own traffic. Minus the
 * benchmark's processes, this shows interference from other load.
 */
function machineBusyMs() {
  try {
    const [user, nice, system, , , , , steal] = fs
      .readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return ticksToMs(user + nice + system + (steal || 0));
  } catch {
    return null;
  }
}

/**
 * The built gateway (dist/) as a child process, against the given Redis and key prefix;
 * `replicas` > 1 runs that many gateway processes behind one port (GATEWAY_WORKERS).
 */
async function startGateway({ redisUrl, prefix, apiKey, replicas = 1 }) {
  if (!fs.existsSync(GATEWAY_MAIN)) {
    throw new Error(
      `${path.relative(ROOT, GATEWAY_MAIN)} is missing: build the gateway first (npm run build)`,
    );
  }
  const port = await freePort();
  const env = {
    ...process.env,
    NODE_ENV: 'development',
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    API_KEYS: apiKey,
    PORT: String(port),
    HOST: '127.0.0.1',
    DEFAULT_DRIVER: 'simulator',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '100000000',
    MAX_QUEUED_PER_SESSION: '100000000',
    // More than one: the gateway's own cluster mode (node:cluster, the processes share PORT).
    GATEWAY_WORKERS: String(replicas),
  };
  // BENCH_GATEWAY_NODE_ARGS: extra node flags for the gateway only (e.g. --cpu-prof).
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS || '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, GATEWAY_MAIN], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Keep the tail of its output for error messages; print nothing unless it fails.
  const output = keepOutputTail(child);
  const stop = trackChild(child, () => terminate(child, 5000));
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHealthy(baseUrl, child, output, 30000);
    await waitForReady(baseUrl, 4 * replicas, 30000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl, stop, output, cpuTimeMs: () => treeCpuTimeMs(child.pid) };
}

/** The last ~200 chunks a child wrote (stdout and stderr), for the message when it fails. */
function keepOutputTail(child) {
  const output = [];
  const keep = (chunk) => {
    output.push(chunk.toString());
    if (output.length > 200) output.splice(0, 100);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return output;
}

module.exports = {
  trackChild,
  keepOutputTail,
  assertRedisServerInstalled,
  freePort,
  sleep,
  terminate,
  waitForRedis,
  waitForHealthy,
  cpuTimeMs,
  treeCpuTimeMs,
  machineBusyMs,
  installCleanupHandlers,
  startGateway,
  startRedis,
  stopEverything,
};
