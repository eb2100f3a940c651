#!/usr/bin/env node
/*
 * The drain benchmark: how fast one sender worker sends what is queued, against a bare BullMQ
 * Worker on the same private redis-server (AOF `appendfsync always`, as production runs it), in
 * the same run. Runnable alone (`node scripts/bench/drain.js`, needs `npm run build`) and
 * exported as `runDrainBench` for scripts/bench.js.
 *
 *   drain, one session   N (5000) messages queued through the gateway's bulk API in one
 *                        simulator session (sendLatencyMs 0, no pacing), then one worker starts
 *                        and sends them; vs a bare BullMQ Worker (concurrency 1, no-op processor)
 *                        on a queue of N jobs of the gateway's shape and options.
 *   drain, 50 sessions   50 × 200 messages on one worker; vs 50 bare Workers on 50 queues.
 *                        Rates count from the first send to the last (simulator outbox times;
 *                        BullMQ `completed` events for raw), so start-up is not timed.
 *   commands / message   INFO commandstats delta over a drain ÷ messages: Redis commands per
 *                        message (ours, raw), the best proxy for round trips.
 *   idle                 50 ready sessions with nothing to send: Redis commands/s and worker CPU
 *                        over IDLE_SECONDS, measured after the first 50-session drain, after a
 *                        second one (twice the finished messages) and with 50 × SCHEDULED
 *                        messages scheduled an hour ahead (a longer queue), right after
 *                        scheduling and again once they are older than the consistency check's
 *                        grace period, over one check interval
 *                        (BENCH_DRAIN_PAST_GRACE_SECONDS [60]): it must not grow.
 *   memory               worker RSS with 50 ready sessions, on this host and in a container (a
 *                        second worker in a memory cgroup of BENCH_DRAIN_CONTAINER_MEMORY: V8
 *                        sizes its heap from the limit it starts under); Redis used_memory per
 *                        queued message (text; 100 KB inline media), ours (record, history, job,
 *                        event) and raw BullMQ (job only).
 *   connections          CLIENT LIST: the worker's Redis connections with 50 sessions, and what
 *                        each costs Redis (tot-mem).
 *   fsync ceiling        (AOF always only) a write's and a read's round trip on the same Redis,
 *                        one at a time: the one-session rate that four fsync'd writes in a row
 *                        per send allow at most, whatever the CPU (FSYNCED_WRITES_PER_SEND), ÷ raw.
 *
 * CPU columns as in scripts/bench.js: % of one core for the worker, redis-server, this process
 * (bench: the raw Workers run here) and `others` (the rest of the machine: noise).
 *
 * Env: BENCH_DRAIN_MESSAGES (5000), BENCH_DRAIN_SESSIONS (50), BENCH_DRAIN_PER_SESSION (200),
 * BENCH_DRAIN_IDLE_SECONDS (10), BENCH_DRAIN_SCHEDULED (400 per session),
 * BENCH_DRAIN_PAST_GRACE_SECONDS (60; 0 skips that window), BENCH_DRAIN_CPU_PROF=<dir> (the
 * one-session drain's worker runs under node --cpu-prof; summarise with
 * scripts/bench/drain-profile.js), BENCH_DRAIN_SMOKE=1 (a few seconds: small counts, no idle
 * phases nor Redis bytes per message), BENCH_DRAIN_AOF (always|everysec|off),
 * BENCH_DRAIN_CONTAINER_MEMORY (1g; e.g. 3100m as docker-compose.yml's worker, 0 skips; it needs
 * root, a writable cgroup filesystem and the memory controller (see memory-cgroup.js); else the
 * phase says why it was skipped).
 * Output: lines, then a JSON summary as the last line. Exit code 1 when a count check failed.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { createHash, randomUUID } = require('node:crypto');
const { performance } = require('node:perf_hooks');
const v8 = require('node:v8');
const { Queue, Worker } = require('bullmq');
const { Redis } = require('ioredis');
const {
  assertRedisServerInstalled,
  installCleanupHandlers,
  machineBusyMs,
  startGateway,
  startRedis,
  stopEverything,
  sleep,
} = require('./processes');
const {
  CgroupUnavailable,
  createMemoryCgroup,
  joinAndExec,
  parseBytes,
} = require('./memory-cgroup');
const {
  clientList,
  commandCounts,
  commandDelta,
  info,
  startWorker,
  waitFor,
} = require('./drain-processes');

const API_KEY = 'bench-key-0123456789abcdef';
/**
 * The worker's consistency check leaves messages younger than this alone: a copy of
 * CONSISTENCY_GRACE_MS (consistency-check.service.ts), which this plain script cannot import
 * without loading the worker's Nest modules.
 */
const CONSISTENCY_GRACE_MS = 60000;
const RECIPIENT = '15551234567';

const say = (line = '') => process.stdout.write(`${line}\n`);
const round = (x, d = 0) => (x === null || x === undefined ? null : Number(x.toFixed(d)));
const ratio = (a, b) => (b > 0 ? round(a / b, 3) : null);

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be an integer ≥ 0, got "${raw}"`);
  return n;
}

function settings() {
  const smoke = process.env.BENCH_DRAIN_SMOKE === '1';
  return {
    smoke,
    messages: intEnv('BENCH_DRAIN_MESSAGES', smoke ? 200 : 5000),
    sessions: intEnv('BENCH_DRAIN_SESSIONS', smoke ? 5 : 50),
    perSession: intEnv('BENCH_DRAIN_PER_SESSION', smoke ? 20 : 200),
    idleSeconds: intEnv('BENCH_DRAIN_IDLE_SECONDS', smoke ? 0 : 10),
    scheduledPerSession: intEnv('BENCH_DRAIN_SCHEDULED', 400),
    // One default check interval (CONSISTENCY_CHECK_INTERVAL_MS); 0 skips this window.
    pastGraceSeconds: intEnv('BENCH_DRAIN_PAST_GRACE_SECONDS', smoke ? 0 : 60),
    cpuProfDir: process.env.BENCH_DRAIN_CPU_PROF || null,
    aof: process.env.BENCH_DRAIN_AOF || 'always',
    // A container's memory limit for the worker-RSS-in-a-container phase; 0 skips it.
    containerMemoryBytes: parseBytes(process.env.BENCH_DRAIN_CONTAINER_MEMORY || '1g'),
  };
}

let uniq = 0;
const uniquePrefix = (part) => `drain-${process.pid}-${Date.now().toString(36)}-${uniq++}-${part}`;

/** CPU meters over a phase: call stop() for "% of one core" per process and `others`. */
function cpuMeter(meters) {
  const start = performance.now();
  const read = () => {
    const out = {};
    for (const [who, fn] of Object.entries(meters)) out[who] = fn();
    const own = process.cpuUsage();
    out.bench = (own.user + own.system) / 1000;
    out.machine = machineBusyMs();
    return out;
  };
  const before = read();
  return () => {
    const after = read();
    const ms = performance.now() - start;
    const pct = {};
    let ours = 0;
    for (const who of Object.keys(after)) {
      if (who === 'machine' || after[who] === null || before[who] === null) continue;
      pct[who] = Math.round((100 * (after[who] - before[who])) / ms);
      ours += after[who] - before[who];
    }
    if (after.machine !== null)
      pct.others = Math.max(0, Math.round((100 * (after.machine - before.machine - ours)) / ms));
    return pct;
  };
}
const cpuText = (pct) =>
  Object.entries(pct)
    .map(([k, v]) => `${k} ${v}%`)
    .join(', ');

// ---------------------------------------------------------------- raw BullMQ

/** A send job as the gateway writes it (libs/queue/src/job-options.ts, jobs.ts). */
function rawJob(sessionId, i) {
  const content = { text: `bench message ${i}` };
  const messageId = `msg_${randomUUID().replace(/-/g, '')}`;
  return {
    name: 'send-message',
    data: {
      messageId,
      sessionId,
      chatId: `${RECIPIENT}@c.us`,
      content,
      contentHash: createHash('sha256').update(JSON.stringify(content)).digest('hex'),
      priority: 'normal',
      createdAt: new Date().toISOString(),
      version: 2,
    },
    opts: {
      jobId: messageId,
      priority: 2,
      attempts: 5,
      backoff: { type: 'exponential', delay: 2000, jitter: 0.5 },
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600, count: 1000 },
    },
  };
}

function connect(url, name) {
  const r = new Redis(url, { maxRetriesPerRequest: null, connectionName: name });
  r.on('error', () => undefined);
  return r;
}

/** Fills `queues` (names) with `perQueue` jobs each, then drains them with one bare Worker each. */
async function rawDrain(redis, queueNames, perQueue) {
  const prefix = uniquePrefix('raw');
  const conn = connect(redis.url, 'bench-raw');
  const total = queueNames.length * perQueue;
  for (const name of queueNames) {
    const q = new Queue(name, { connection: conn, prefix });
    for (let i = 0; i < perQueue; i += 1000) {
      const n = Math.min(1000, perQueue - i);
      await q.addBulk(Array.from({ length: n }, (_, k) => rawJob(name, i + k)));
    }
    await q.close();
  }
  const times = [];
  const before = await commandCounts(conn);
  const meter = cpuMeter({ redis: redis.cpuTimeMs });
  let done;
  const finished = new Promise((r) => (done = r));
  const workers = queueNames.map((name) => {
    const w = new Worker(name, async () => undefined, {
      connection: conn,
      prefix,
      concurrency: 1,
    });
    w.on('error', () => undefined);
    w.on('completed', () => {
      times.push(performance.now());
      if (times.length === total) done();
    });
    return w;
  });
  await finished;
  const cpu = meter();
  const cmds = commandDelta(before, await commandCounts(conn));
  await Promise.all(workers.map((w) => w.close()));
  conn.disconnect();
  const elapsedMs = times[times.length - 1] - times[0];
  return {
    messages: total,
    elapsedMs,
    rate: ((total - 1) * 1000) / elapsedMs,
    cpu,
    commandsPerMessage: cmds.total / total,
    topCommands: topOf(cmds.perCommand, total),
  };
}

/** The most called commands, per message. */
function topOf(perCommand, messages, n = 12) {
  return Object.fromEntries(
    Object.entries(perCommand)
      .slice(0, n)
      .map(([k, v]) => [k, round(v / messages, 2)]),
  );
}

// ---------------------------------------------------------------- through the gateway and worker

async function api(gateway, method, path, body, expected) {
  const res = await fetch(`${gateway.baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== expected)
    throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

function createSessions(gateway, ids) {
  return Promise.all(
    ids.map((id) =>
      api(
        gateway,
        'POST',
        '/api/sessions',
        {
          id,
          driver: 'simulator',
          rateLimit: { perMinute: 0, minDelayMs: 0, maxDelayMs: 0 },
          simulator: { linkAfterMs: 0, sendLatencyMs: 0 },
        },
        201,
      ),
    ),
  );
}

/** `count` messages into `session`, 1000 per bulk request; `extra` is merged into each. */
async function enqueue(gateway, session, count, extra = {}, batch = 1000) {
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    const messages = Array.from({ length: n }, (_, k) => ({
      to: RECIPIENT,
      text: `bench message ${i + k}`,
      ...extra,
    }));
    await api(gateway, 'POST', `/api/sessions/${session}/messages/bulk`, { messages }, 202);
  }
}

const outboxKey = (prefix, id) => `${prefix}:sim:{${id}}:outbox`;

async function sentCount(conn, prefix, ids) {
  const p = conn.pipeline();
  for (const id of ids) p.llen(outboxKey(prefix, id));
  const res = await p.exec();
  return res.reduce((s, [, n]) => s + Number(n), 0);
}

async function sessionStatuses(conn, prefix, ids) {
  const p = conn.pipeline();
  for (const id of ids) p.hget(`${prefix}:session:{${id}}`, 'state');
  return (await p.exec()).map(([, s]) => (s ? JSON.parse(s).status : null));
}

/** Times of every send (simulator outbox), and a check that no message went out twice. */
async function sendTimes(conn, prefix, ids) {
  const times = [];
  const seen = new Set();
  let duplicates = 0;
  for (const id of ids) {
    for (const json of await conn.lrange(outboxKey(prefix, id), 0, -1)) {
      const e = JSON.parse(json);
      if (seen.has(e.messageId)) duplicates++;
      seen.add(e.messageId);
      times.push(Date.parse(e.at));
    }
  }
  times.sort((a, b) => a - b);
  return { times, duplicates };
}

/**
 * Sessions `ids` (created, messages queued) drained by one worker that starts now. Resolves with
 * the rate from first to last send, once every message is sent; the worker keeps running.
 */
async function workerDrain(redis, conn, prefix, ids, total, { worker, cpuProfDir } = {}) {
  const before = await commandCounts(conn);
  const w =
    worker ??
    (await startWorker({ redisUrl: redis.url, prefix, maxSessions: ids.length + 10, cpuProfDir }));
  const meter = cpuMeter({ worker: w.cpuTimeMs, redis: redis.cpuTimeMs });
  await waitFor(`${total} sends`, async () => (await sentCount(conn, prefix, ids)) >= total, {
    worker: w,
    timeoutMs: 600000,
    everyMs: 100,
  });
  const cpu = meter();
  // The last sends' records and events settle right after the outbox write.
  await sleep(300);
  const cmds = commandDelta(before, await commandCounts(conn));
  const { times, duplicates } = await sendTimes(conn, prefix, ids);
  const elapsedMs = times[times.length - 1] - times[0];
  return {
    worker: w,
    result: {
      messages: times.length,
      duplicates,
      elapsedMs,
      rate: ((times.length - 1) * 1000) / elapsedMs,
      cpu,
      commandsPerMessage: cmds.total / total,
      topCommands: topOf(cmds.perCommand, total),
    },
  };
}

function line(label, r) {
  return (
    `  ${label.padEnd(34)} ${String(r.messages).padStart(6)} msg in ${(r.elapsedMs / 1000).toFixed(2).padStart(6)} s` +
    `  → ${String(round(r.rate)).padStart(6)} msg/s  ${r.commandsPerMessage.toFixed(1)} Redis cmds/msg  (CPU ${cpuText(r.cpu)})`
  );
}

/**
 * The worker's RSS in a container: a second worker, started inside a memory cgroup of
 * `containerMemoryBytes` (what Docker's --memory, Compose's mem_limit or a Kubernetes limit set),
 * drains the same sessions × messages as the main 50-session phase on its own prefix, and its
 * RSS is read the same way, once every session is ready and the drain's acks and events are
 * settled. Node sizes V8's heap from the limit it starts under, so this is the figure a
 * deployment with that limit sees; a `node` started in the same cgroup reports the limit Node
 * read and the heap limit V8 drew from it, next to this process's. Skipped, with the reason,
 * where no cgroup can be made (memory-cgroup.js); a cgroup it could not remove goes to
 * `leftovers`.
 */
async function containerRss(redis, conn, s, leftovers) {
  let cgroup;
  try {
    cgroup = createMemoryCgroup(s.containerMemoryBytes);
  } catch (err) {
    if (err instanceof CgroupUnavailable) return { skipped: err.message };
    throw err;
  }
  const prefix = uniquePrefix('container');
  const ids = Array.from({ length: s.sessions }, (_, i) => `s${i}`);
  let gateway = null;
  let worker = null;
  try {
    const seen = nodeLimitsIn(cgroup);
    gateway = await startGateway({ redisUrl: redis.url, prefix, apiKey: API_KEY });
    await createSessions(gateway, ids);
    for (const id of ids) await enqueue(gateway, id, s.perSession);
    worker = await startWorker({
      redisUrl: redis.url,
      prefix,
      maxSessions: ids.length + 10,
      cgroup,
    });
    const total = ids.length * s.perSession;
    const d = await workerDrain(redis, conn, prefix, ids, total, { worker });
    // The shell joins the cgroup before it execs the worker (`&&`): a worker outside it never
    // starts. This catches a cgroup that did not hold it (another hierarchy, say).
    if (!cgroup.contains(worker.pid))
      throw new Error(`the worker (pid ${worker.pid}) is not in ${cgroup.path}`);
    await quiesce(conn, prefix, worker);
    await waitFor(
      'all sessions ready',
      async () => (await sessionStatuses(conn, prefix, ids)).every((x) => x === 'ready'),
      { worker },
    );
    return {
      limitMb: round(cgroup.limitBytes / 1048576),
      constrainedMemoryMb: round(seen.constrainedMemory / 1048576),
      heapLimitMb: round(seen.heapLimit / 1048576),
      heapLimitMbHere: round(v8.getHeapStatistics().heap_size_limit / 1048576),
      rssMb: round(worker.rssMb(), 1),
      sessions: ids.length,
      messages: d.result.messages,
      duplicates: d.result.duplicates,
      rate: round(d.result.rate),
    };
  } finally {
    if (gateway) await gateway.stop();
    if (worker) await worker.stop();
    if (!(await cgroup.remove())) leftovers.push(cgroup.path);
  }
}

/** What a Node process started in `cgroup` reads of its limit, and the heap limit V8 draws. */
function nodeLimitsIn(cgroup) {
  const script =
    'JSON.stringify([process.constrainedMemory(), v8.getHeapStatistics().heap_size_limit])';
  const [command, args] = joinAndExec(cgroup, process.execPath, ['-p', script]);
  const run = spawnSync(command, args, { encoding: 'utf8', timeout: 15000 });
  if (run.status !== 0)
    throw new Error(
      `node in ${cgroup.path} ended with ${run.signal ?? `status ${run.status}`}: ${run.stderr || run.error || 'no output'}`,
    );
  const [constrainedMemory, heapLimit] = JSON.parse(run.stdout.trim().split('\n').pop());
  return { constrainedMemory, heapLimit };
}

/**
 * Waits until the worker has nothing left to do from the last drain: every event routed by the
 * webhook router (its group has no lag and nothing pending) and the simulator's acks (read
 * after 1 s) applied, so that the idle figures measure idling, not a backlog.
 */
async function quiesce(conn, prefix, worker) {
  await sleep(1500);
  const started = Date.now();
  await waitFor(
    'the event backlog to be routed',
    async () => {
      const groups = await conn.xinfo('GROUPS', `${prefix}:{events}`).catch(() => []);
      return groups.every((g) => {
        const f = {};
        for (let i = 0; i < g.length; i += 2) f[g[i]] = g[i + 1];
        return Number(f.pending) === 0 && (f.lag === null || Number(f.lag) === 0);
      });
    },
    { timeoutMs: 300000, everyMs: 200, worker },
  );
  return Date.now() - started;
}

/** Redis commands/s and worker CPU while nothing is sent. */
async function idle(redis, conn, worker, seconds) {
  const before = await commandCounts(conn);
  const meter = cpuMeter({ worker: worker.cpuTimeMs, redis: redis.cpuTimeMs });
  await sleep(seconds * 1000);
  const cpu = meter();
  // The two commands of this measure itself (INFO, and CLIENT/INFO of the meter) are noise.
  const cmds = commandDelta(before, await commandCounts(conn));
  return {
    commandsPerSec: round(cmds.total / seconds, 1),
    workerCpuPct: cpu.worker,
    cpu,
    topCommands: Object.fromEntries(
      Object.entries(cmds.perCommand)
        .slice(0, 8)
        .map(([k, v]) => [k, round(v / seconds, 1)]),
    ),
  };
}

async function usedMemory(conn) {
  return Number((await info(conn, 'memory')).used_memory);
}

/** Redis bytes per queued message: ours (through the gateway) and raw BullMQ (job only). */
async function memoryPerMessage(redis, gateway, conn, s) {
  const textN = s.smoke ? 200 : 2000;
  const mediaN = s.smoke ? 10 : 100;
  // 100 KB that file-type cannot mistake for another type, sent as application/octet-stream.
  const mediaBytes = Buffer.alloc(100 * 1024, 'x');
  const media = {
    base64: mediaBytes.toString('base64'),
    mimetype: 'application/octet-stream',
    filename: 'bench.bin',
  };
  await createSessions(gateway, ['mem-text', 'mem-media']);
  const m0 = await usedMemory(conn);
  await enqueue(gateway, 'mem-text', textN);
  const m1 = await usedMemory(conn);
  await enqueue(gateway, 'mem-media', mediaN, { text: undefined, media }, 20);
  const m2 = await usedMemory(conn);
  // Raw: the same jobs, no record, no event.
  const prefix = uniquePrefix('rawmem');
  const q = new Queue('out.{rawmem}', { connection: conn, prefix });
  const r0 = await usedMemory(conn);
  for (let i = 0; i < textN; i += 1000)
    await q.addBulk(
      Array.from({ length: Math.min(1000, textN - i) }, (_, k) => rawJob('rawmem', i + k)),
    );
  const r1 = await usedMemory(conn);
  await q.close();
  return {
    textBytes: Math.round((m1 - m0) / textN),
    mediaBytes: Math.round((m2 - m1) / mediaN),
    rawTextJobBytes: Math.round((r1 - r0) / textN),
  };
}

/** The worker's Redis connections (those that were not there before it started) and their cost. */
function workerConnections(beforeIds, clients) {
  const mine = clients.filter((c) => !beforeIds.has(c.id));
  const totMem = mine.map((c) => Number(c['tot-mem'] ?? 0));
  const blocking = mine.filter((c) =>
    /^(bzpopmin|bzpopmax|blmove|brpoplpush|xread|xreadgroup)$/i.test(c.cmd),
  ).length;
  return {
    count: mine.length,
    blocking,
    totMemBytes: totMem.reduce((a, b) => a + b, 0),
    perClientBytes: mine.length ? Math.round(totMem.reduce((a, b) => a + b, 0) / mine.length) : 0,
    byLastCommand: mine.reduce((acc, c) => ((acc[c.cmd] = (acc[c.cmd] ?? 0) + 1), acc), {}),
  };
}

/**
 * Top-level Redis commands per sent message (what a client sent, not what ran inside a Lua
 * script): MONITOR over a small drain of `n` messages in one session. MONITOR slows Redis, so
 * this phase is not timed. Ack commands are included (the simulator acks delivered and read).
 */
/**
 * A MONITOR connection. ioredis 6 marks a connection as monitoring one microtask after MONITOR's
 * OK; a monitor line that arrives in the same read as the OK finds no command waiting and fails
 * the start ("Command queue state error", seen once in a busy run): start again then.
 */
async function startMonitor(url) {
  for (let attempt = 1; ; attempt++) {
    const conn = connect(url, 'bench-rt');
    try {
      return { conn, monitor: await conn.monitor() };
    } catch (err) {
      conn.disconnect();
      if (attempt >= 3 || !/Command queue state error/.test(err.message)) throw err;
    }
  }
}

async function roundTrips(redis, n) {
  const prefix = uniquePrefix('rt');
  const gateway = await startGateway({ redisUrl: redis.url, prefix, apiKey: API_KEY });
  await createSessions(gateway, ['rt']);
  await enqueue(gateway, 'rt', n);
  await gateway.stop();
  const { conn, monitor } = await startMonitor(redis.url);
  const counts = {};
  let total = 0;
  let counting = false;
  monitor.on('monitor', (_time, args, source) => {
    if (!counting || source.startsWith('lua') || !args.length) return;
    const cmd = String(args[0]).toLowerCase();
    counts[cmd] = (counts[cmd] ?? 0) + 1;
    total++;
  });
  const w = await startWorker({ redisUrl: redis.url, prefix, maxSessions: 5 });
  const poll = connect(redis.url, 'bench-rt-poll');
  // Start counting once the session is ready and sending, stop after the last send's acks.
  await waitFor('first send', async () => (await poll.llen(outboxKey(prefix, 'rt'))) > 0, {
    worker: w,
  });
  const first = await poll.llen(outboxKey(prefix, 'rt'));
  counting = true;
  const stopAt = Math.min(n, first + Math.max(10, Math.floor(n / 2)));
  await waitFor('sends', async () => (await poll.llen(outboxKey(prefix, 'rt'))) >= stopAt, {
    worker: w,
    everyMs: 5,
  });
  const last = await poll.llen(outboxKey(prefix, 'rt'));
  counting = false;
  const sends = last - first;
  monitor.disconnect();
  await w.stop();
  poll.disconnect();
  conn.disconnect();
  // The poller's own LLENs are not the worker's.
  delete counts.llen;
  const own = Object.values(counts).reduce((a, b) => a + b, 0);
  void total;
  return {
    sends,
    perMessage: round(own / sends, 1),
    byCommand: Object.fromEntries(
      Object.entries(counts)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, round(v / sends, 2)]),
    ),
  };
}

/**
 * The writes one send waits for, one after the other, each for its own fsync (AOF
 * `always`: Redis answers a write only once it is on disk, and a lone session's next step waits
 * for the answer): the move to `sending` with the send intent, the simulator's record of the send
 * (WhatsApp's side: the benchmark's, not the protocol's), `sent`, and BullMQ's completion. Reads
 * and the writes that run alongside (events, acks) are not counted: the ceiling is what these
 * four alone allow.
 */
const FSYNCED_WRITES_PER_SEND = 4;

/**
 * Sequential round trips on this Redis, one at a time as a lone session makes them: a write (SET:
 * answered after its fsync under AOF `always`) and a read (GET). Their mean, in µs (a rate is
 * bound by the sum of the waits, long fsyncs included, not by a typical one).
 */
async function sequentialRoundTrips(redis, n) {
  const c = connect(redis.url, 'bench-rt-floor');
  try {
    const time = async (op) => {
      const start = performance.now();
      for (let i = 0; i < n; i++) await op(i);
      return round((1000 * (performance.now() - start)) / n);
    };
    await time((i) => c.set(`bench:floor:${i % 16}`, 'x')); // warm-up
    const writeUs = await time((i) => c.set(`bench:floor:${i % 16}`, 'x'));
    const readUs = await time((i) => c.get(`bench:floor:${i % 16}`));
    await c.del(...Array.from({ length: 16 }, (_, i) => `bench:floor:${i}`));
    return { writeUs, readUs };
  } finally {
    c.disconnect();
  }
}

// ---------------------------------------------------------------- the run

async function runDrainBench(opts = {}) {
  const s = { ...settings(), ...opts };
  const out = { settings: s, problems: [] };
  const redis = await startRedis(s.aof);
  const conn = connect(redis.url, 'bench-drain');
  try {
    say(`drain benchmark (private redis-server, AOF ${s.aof})`);
    // Raw first, one session then 50 queues.
    const raw1 = await rawDrain(redis, ['out.{raw}'], s.messages);
    say(line(`raw Worker, 1 queue`, raw1));
    const sessionIds = Array.from({ length: s.sessions }, (_, i) => `s${i}`);
    const raw50 = await rawDrain(
      redis,
      sessionIds.map((id) => `out.{${id}}`),
      s.perSession,
    );
    say(line(`raw Workers, ${s.sessions} queues`, raw50));

    // Ours, one session: queue everything with no worker running, then start one.
    const prefix1 = uniquePrefix('one');
    let gateway = await startGateway({ redisUrl: redis.url, prefix: prefix1, apiKey: API_KEY });
    await createSessions(gateway, ['one']);
    await enqueue(gateway, 'one', s.messages);
    await gateway.stop();
    const d1 = await workerDrain(redis, conn, prefix1, ['one'], s.messages, {
      cpuProfDir: s.cpuProfDir,
    });
    await d1.worker.stop();
    say(line(`worker, 1 session`, d1.result));
    if (d1.result.duplicates || d1.result.messages !== s.messages)
      out.problems.push(`one session: ${d1.result.messages} sent, ${d1.result.duplicates} twice`);

    out.roundTrips = await roundTrips(redis, s.smoke ? 60 : 400);
    say(
      `  top-level Redis commands per sent message (MONITOR, acks included): ${out.roundTrips.perMessage} ${JSON.stringify(out.roundTrips.byCommand)}`,
    );

    // Ours, 50 sessions.
    const prefix50 = uniquePrefix('many');
    gateway = await startGateway({ redisUrl: redis.url, prefix: prefix50, apiKey: API_KEY });
    await createSessions(gateway, sessionIds);
    for (const id of sessionIds) await enqueue(gateway, id, s.perSession);
    const clientsBefore = new Set((await clientList(conn)).map((c) => c.id));
    const total = s.sessions * s.perSession;
    const d50 = await workerDrain(redis, conn, prefix50, sessionIds, total);
    const worker = d50.worker;
    say(line(`worker, ${s.sessions} sessions`, d50.result));
    // How long after the last send the worker was still busy with what the drain left: acks,
    // and routing the drain's events (five per message) through the webhook router.
    d50.result.backlogAfterLastSendMs = await quiesce(conn, prefix50);
    say(
      `    events routed and acks applied ${d50.result.backlogAfterLastSendMs + 1500} ms after the last send`,
    );
    if (d50.result.duplicates || d50.result.messages !== total)
      out.problems.push(
        `${s.sessions} sessions: ${d50.result.messages} sent, ${d50.result.duplicates} twice`,
      );
    out.raw = { one: raw1, many: raw50 };
    out.worker = { one: d1.result, many: d50.result };
    out.ratios = {
      oneSession: ratio(d1.result.rate, raw1.rate),
      manySessions: ratio(d50.result.rate, raw50.rate),
    };
    say(
      `  ratios: one session ${out.ratios.oneSession} × raw, ${s.sessions} sessions ${out.ratios.manySessions} × raw`,
    );
    // What the send protocol allows one session at most on this disk, whatever the CPU: its
    // fsync'd writes one after the other (FSYNCED_WRITES_PER_SEND), against raw's rate. Only
    // under AOF `always`: otherwise a write does not wait for the disk.
    if (s.aof === 'always') {
      const rt = await sequentialRoundTrips(redis, s.smoke ? 200 : 2000);
      const ceiling = 1e6 / (FSYNCED_WRITES_PER_SEND * rt.writeUs);
      out.fsyncCeiling = {
        ...rt,
        writesPerSend: FSYNCED_WRITES_PER_SEND,
        oneSessionMaxRate: round(ceiling),
        oneSessionMaxRatio: ratio(ceiling, raw1.rate),
      };
      say(
        `  one session's ceiling from its fsync'd writes alone: ${FSYNCED_WRITES_PER_SEND} per send, one after the other, ` +
          `a write round trip ${rt.writeUs} µs (a read ${rt.readUs} µs) → at most ${out.fsyncCeiling.oneSessionMaxRate} msg/s = ` +
          `${out.fsyncCeiling.oneSessionMaxRatio} × raw`,
      );
    }
    say(`  Redis commands per message, ours: ${JSON.stringify(d1.result.topCommands)}`);
    say(`  Redis commands per message, raw:  ${JSON.stringify(raw1.topCommands)}`);

    // Connections and memory with 50 ready sessions.
    await waitFor('all sessions ready', async () =>
      (await sessionStatuses(conn, prefix50, sessionIds)).every((x) => x === 'ready'),
    );
    const clients = await clientList(conn);
    const connections = workerConnections(
      clientsBefore,
      clients.filter((c) => c.name !== 'bench-drain'),
    );
    const mem = await info(conn, 'memory');
    out.connections = { ...connections, memClientsNormal: Number(mem.mem_clients_normal) };
    out.workerRssMb = round(worker.rssMb(), 1);
    say(
      `  worker with ${s.sessions} ready sessions: RSS ${out.workerRssMb} MB, ${connections.count} Redis connections ` +
        `(${connections.blocking} blocked in a blocking command), ${connections.perClientBytes} B each (CLIENT LIST tot-mem); ` +
        `by last command ${JSON.stringify(connections.byLastCommand)}`,
    );

    if (s.idleSeconds > 0) {
      out.idle = {};
      out.idle.backlogMs = [await quiesce(conn, prefix50)];
      out.idle.afterDrain = await idle(redis, conn, worker, s.idleSeconds);
      say(`  idle, ${total} finished: ${JSON.stringify(out.idle.afterDrain)}`);
      for (const id of sessionIds) await enqueue(gateway, id, s.perSession);
      const again = await workerDrain(redis, conn, prefix50, sessionIds, 2 * total, { worker });
      // Its rate counts the two drains' window: only the run's spread matters here.
      out.idle.backlogMs.push(await quiesce(conn, prefix50));
      out.idle.afterSecondDrain = await idle(redis, conn, worker, s.idleSeconds);
      say(`  idle, ${2 * total} finished: ${JSON.stringify(out.idle.afterSecondDrain)}`);
      if (again.result.duplicates)
        out.problems.push(`second drain: ${again.result.duplicates} twice`);
      const sendAt = new Date(Date.now() + 3600_000).toISOString();
      for (const id of sessionIds) await enqueue(gateway, id, s.scheduledPerSession, { sendAt });
      const scheduledAt = Date.now();
      out.idle.backlogMs.push(await quiesce(conn, prefix50));
      out.idle.withScheduled = await idle(redis, conn, worker, s.idleSeconds);
      say(
        `  idle, ${2 * total} finished + ${s.sessions * s.scheduledPerSession} scheduled: ${JSON.stringify(out.idle.withScheduled)}`,
      );
      if (s.pastGraceSeconds > 0) {
        // The consistency check judges unfinished messages only once they are older than its
        // grace period (CONSISTENCY_GRACE_MS): the window above, right after scheduling, cannot
        // see what its passes cost per scheduled message. Measured again past the grace, over
        // one whole check interval, so every session's pass falls inside it.
        await sleep(Math.max(0, scheduledAt + CONSISTENCY_GRACE_MS + 1000 - Date.now()));
        out.idle.withScheduledPastGrace = await idle(redis, conn, worker, s.pastGraceSeconds);
        say(
          `  idle, same, once the scheduled messages are past the consistency check's grace (${s.pastGraceSeconds} s): ${JSON.stringify(out.idle.withScheduledPastGrace)}`,
        );
      }
      // Another prefix: this worker must not claim (and send) the memory phase's sessions.
      const memGateway = await startGateway({
        redisUrl: redis.url,
        prefix: uniquePrefix('mem'),
        apiKey: API_KEY,
      });
      out.memory = await memoryPerMessage(redis, memGateway, conn, s);
      await memGateway.stop();
      say(
        `  Redis bytes per queued message: text ${out.memory.textBytes} (raw job ${out.memory.rawTextJobBytes}), 100 KB media ${out.memory.mediaBytes}`,
      );
    }
    await gateway.stop();
    await worker.stop();

    // Last, alone on the machine: the worker's RSS in a container.
    const leftovers = [];
    out.containerMemory = s.containerMemoryBytes
      ? await containerRss(redis, conn, s, leftovers).catch((err) => ({
          failed: String(err?.message ?? err).slice(0, 800),
        }))
      : { skipped: 'BENCH_DRAIN_CONTAINER_MEMORY=0' };
    sayContainerMemory(out, s);
    for (const dir of leftovers) out.problems.push(`memory cgroup ${dir} left behind`);
  } finally {
    conn.disconnect();
    await redis.stop();
  }
  return out;
}

function sayContainerMemory(out, s) {
  const c = out.containerMemory;
  if (c.skipped) {
    say(`  worker RSS in a memory-limited container: skipped (${c.skipped})`);
    return;
  }
  if (c.failed) {
    out.problems.push(`the container-memory phase failed: ${c.failed}`);
    say(`  worker RSS in a memory-limited container: failed (${c.failed})`);
    return;
  }
  say(
    `  worker with ${c.sessions} ready sessions in a ${c.limitMb} MiB memory cgroup (a container's limit): ` +
      `RSS ${c.rssMb} MB (here, outside it: ${out.workerRssMb} MB); Node read a ${c.constrainedMemoryMb} MiB limit ` +
      `and V8 drew a ${c.heapLimitMb} MiB heap limit from it (${c.heapLimitMbHere} MiB here); its drain ${c.rate} msg/s`,
  );
  if (c.constrainedMemoryMb !== c.limitMb)
    out.problems.push(
      `Node in the memory cgroup read ${c.constrainedMemoryMb} MiB, not ${c.limitMb}`,
    );
  if (c.duplicates || c.messages !== s.sessions * s.perSession)
    out.problems.push(`in the memory cgroup: ${c.messages} sent, ${c.duplicates} twice`);
}

module.exports = { drainSettings: settings, runDrainBench };

if (require.main === module) {
  assertRedisServerInstalled();
  installCleanupHandlers();
  const started = performance.now();
  runDrainBench()
    .then((out) => {
      say(
        `finished in ${((performance.now() - started) / 1000).toFixed(1)} s${out.problems.length ? `: ${out.problems.join('; ')}` : ''}`,
      );
      say(JSON.stringify(out));
      process.exitCode = out.problems.length ? 1 : 0;
    })
    .catch(async (err) => {
      process.stderr.write(`drain bench failed: ${err && err.stack ? err.stack : err}\n`);
      await stopEverything();
      process.exitCode = 1;
    })
    .finally(() => setTimeout(() => process.exit(), 100).unref());
}
