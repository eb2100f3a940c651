#!/usr/bin/env node
/*
 * `npm run bench`: how fast the gateway accepts messages, measured against raw BullMQ in the
 * same run, under the conditions of issue 13. Every timed phase runs on its own fresh private
 * redis-server (same settings), so none inherits the data or AOF file of the phases before it.
 *
 * Main figures: a private redis-server with `appendonly yes` + `appendfsync always` (what
 * production runs: a 202 survives a Redis crash). Every timed phase lasts BENCH_SECONDS [10]:
 *   raw      Queue.add with 64 in flight, and FlowProducer.addBulk of 1000-job batches (4 in
 *            flight), with the gateway's queue name, payload and job options.
 *   gateway  64 keep-alive connections POSTing single messages (every answer must be 202); the
 *            same with a unique Idempotency-Key per request; POST …/messages/bulk of 1000
 *            messages (4 in flight); and single messages again with the gateway in cluster mode
 *            (GATEWAY_WORKERS=2: two gateway processes behind one port, the scaling factor on both cores).
 *   AOF off  raw Queue.add and gateway single messages again on a fresh Redis without
 *            persistence: what durability costs each.
 * Targets (issue 13), printed with PASS/FAIL: single ≥ 0.5 × raw Queue.add with p99 ≤ 20 ms;
 * keyed ≥ 0.4 × raw Queue.add; bulk ≥ 0.7 × raw FlowProducer.addBulk.
 *
 * Why against raw BullMQ: absolute rates depend on the machine, the ratio does not (much). Raw
 * BullMQ is the ceiling of what the gateway can do, since each accepted message ends as one
 * BullMQ job; the ratio shows what HTTP, validation, the API-key guard and throttler, and the
 * message record written before the job cost on top of it.
 *
 * After every phase the queue `out.{bench}` is counted (prioritized + waiting + delayed) and must
 * hold exactly the jobs accepted in it, so no rate is reported for messages that were not stored.
 *
 * Each line also gives the CPU that the benchmark process (the load generator), the gateway and
 * redis-server used meanwhile, in % of one core: on a small machine they share the cores, and
 * these say which one was the limit (a client near 100% would measure the client, not the gateway).
 * `others` is the rest of the machine: load from other processes that disturbs the figures
 * (approximate: /proc accounting is per clock tick).
 *
 * HTTP client: undici's Pool of 64 keep-alive connections, the client issue 13 names and the
 * cheapest one here (bench/gateway-client.js); BENCH_CLIENT=http uses node:http (the client of
 * earlier rounds' figures), BENCH_CLIENT=fetch uses fetch.
 *
 * Two floors under the same load, with no Redis: a bare Fastify route and a bare NestJS
 * controller on Fastify (bench/http-floor.js), with their CPU per request: what the HTTP stack and
 * the framework cost, so the distance from them to the gateway is the gateway's own work.
 *
 * The NestJS + BullMQ floor, on fresh Redis with AOF always: the bare controller adding each
 * message as one BullMQ job shaped as the gateway's (Queue.add, in one process and in
 * GATEWAY_WORKERS=2's two, and the same with the single messages of one event-loop turn added
 * by one Queue.addBulk; FlowProducer.addBulk for bulk requests), and nothing else: no key,
 * validation, record, event or log. A gateway built one of those ways does at least this much,
 * so each target line prints the floor beside the gateway, and a target the gateway missed and
 * no configuration of the floor met in this run is named in the summary's
 * `targetsTheFloorMissed`. Designs it does not bound: batching over longer windows, more
 * processes, routes outside Nest's router.
 *
 * BENCH_SMOKE=1: every phase lasts 1 s with a short warm-up (a few seconds in all): the run
 * `npm test` makes so the script cannot rot; its figures mean nothing. BENCH_REPLICAS=0 skips the
 * GATEWAY_WORKERS=2 phase and the floor's two-process ones. BENCH_GATEWAY_NODE_ARGS passes flags
 * to the gateway's node (--cpu-prof).
 * BENCH_ONLY=single|keyed|bulk runs that gateway phase alone after its raw baseline (no targets;
 * its JSON line holds both rates, their ratio, p99 and the gateway's CPU per message);
 * BENCH_ONLY=floor|floor-bulk does the same for the NestJS + BullMQ floor (single: its
 * one-process Queue.add configuration).
 *
 * Output: human-readable lines, then one JSON summary as the last line of stdout. Exit code 1 if
 * any request failed or a count check did not match (a missed target is not an error: the
 * figures depend on the machine). Needs redis-server on PATH and the built gateway in dist/.
 */
'use strict';
const os = require('node:os');
const { performance } = require('node:perf_hooks');
const {
  assertRedisServerInstalled,
  installCleanupHandlers,
  machineBusyMs,
  startGateway,
  startRedis,
  stopEverything,
} = require('./bench/processes');
const { drainSettings, runDrainBench } = require('./bench/drain');
const { startHttpFloor } = require('./bench/http-floor');
const { benchFlowAddBulk, benchQueueAdd, countQueuedJobs } = require('./bench/raw-bullmq');
const {
  SESSION_ID,
  clientKind,
  closeIdleConnections,
  createSession,
  sendBulk,
  sendMessage,
} = require('./bench/gateway-client');
const { percentile, perSecond, round, runConcurrently, runForMetered } = require('./bench/load');

const API_KEY = 'bench-key-0123456789abcdef';
const IN_FLIGHT = 64;
const BULK_SIZE = 1000;
const BULK_IN_FLIGHT = 4;
const WARMUP_SESSION = 'warmup';

/** Everything that went wrong, for the exit code and the summary. */
const problems = { failedRequests: 0, failedCountChecks: 0 };
/** The most CPU (% of one core) other processes of the machine used during a timed phase. */
let worstInterference = 0;
/** Above this, the figures were likely disturbed by other load on the machine. */
const INTERFERENCE_WARNING_PERCENT = 25;

const SMOKE = process.env.BENCH_SMOKE === '1';
/** Gateway processes behind one port in the scaling phase (one per core here). */
const REPLICAS = 2;
/** The NestJS + BullMQ floor's single-message configurations (measureBullmqFloor). */
const SINGLE_FLOORS = [
  { key: 'single', processes: 1, coalesced: false },
  { key: 'singleReplicas', processes: REPLICAS, coalesced: false },
  { key: 'coalesced', processes: 1, coalesced: true },
  { key: 'coalescedReplicas', processes: REPLICAS, coalesced: true },
];
/** Issue 13's targets, as ratios to raw BullMQ measured in the same run. */
const TARGETS = { single: 0.5, singleP99Ms: 20, idempotent: 0.4, bulk: 0.7 };

/** How long each timed phase lasts (BENCH_SECONDS [10]; 1 s in smoke mode). */
function phaseMs() {
  if (SMOKE) return 1000;
  const raw = process.env.BENCH_SECONDS;
  if (raw === undefined || raw === '') return 10000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`BENCH_SECONDS must be a positive number, got "${raw}"`);
  }
  return Math.round(n * 1000);
}

/** A QUEUE_PREFIX no other run (or other part of this run) uses. */
function uniquePrefix(part) {
  return `bench-${process.pid}-${Date.now().toString(36)}-${part}`;
}

const say = (line = '') => process.stdout.write(`${line}\n`);

/**
 * Figures of one timed phase, printed as one line. `units` are what was stored (jobs or
 * messages); with batches, one call carries `unitsPerCall` of them on average (the last batch
 * is smaller when N is not a multiple of the batch size) and latency is per call.
 */
function report(label, result, { unitsPerCall = 1, unit = 'msg', callName = 'req' } = {}) {
  const okCalls = result.total - result.failures.count;
  const units = Math.round(okCalls * unitsPerCall);
  const rate = perSecond(units, result.elapsedMs);
  const p50 = percentile(result.latencies, 50);
  const p99 = percentile(result.latencies, 99);
  const calls =
    unitsPerCall > 1 ? `, ${round(perSecond(okCalls, result.elapsedMs), 1)} ${callName}/s` : '';
  const cpu = describeCpu(result);
  // The server's CPU per message (the gateway's, or a floor's): unlike a rate, it hardly moves
  // when other load on the machine takes cores away, so it compares runs (and builds) on a busy
  // machine.
  const server = ['gateway', 'floor'].find((who) => typeof result.cpuMs[who] === 'number');
  const serverCpuUs = server && units > 0 ? (1000 * result.cpuMs[server]) / units : null;
  const perUnit = serverCpuUs === null ? '' : `, ${server} ${round(serverCpuUs)} µs CPU/${unit}`;
  say(
    `  ${label.padEnd(42)} ${String(units).padStart(7)} ${unit} in ${(result.elapsedMs / 1000).toFixed(2).padStart(6)} s` +
      `  → ${String(round(rate)).padStart(6)} ${unit}/s${calls}` +
      `  (p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms per ${callName}; CPU ${cpu}${perUnit})`,
  );
  if (result.failures.count > 0) {
    problems.failedRequests += result.failures.count;
    say(`    ✗ ${result.failures.count} failed; first: ${result.failures.samples.join(' | ')}`);
  }
  return { units, rate, p50, p99, serverCpuUs, failed: result.failures.count };
}

/**
 * "bench 20%, gateway 98%, redis 30%, others 3%": CPU in % of one core during the phase.
 * `others` is the rest of the machine (its busy time minus our processes'): other people's
 * load, which makes a figure lower than the code deserves.
 */
function describeCpu(result) {
  const percent = (ms) => Math.round((100 * ms) / result.elapsedMs);
  const { machine, ...ours } = result.cpuMs;
  const parts = Object.entries(ours).map(([who, ms]) => `${who} ${percent(ms)}%`);
  if (typeof machine === 'number') {
    const others = Math.max(0, percent(machine - Object.values(ours).reduce((a, b) => a + b, 0)));
    worstInterference = Math.max(worstInterference, others);
    parts.push(`others ${others}%`);
  }
  return parts.join(', ');
}

/** The phase's rate counts only if Redis holds exactly the jobs accepted so far. */
async function checkQueued(redisUrl, prefix, expected) {
  const actual = await countQueuedJobs(redisUrl, prefix);
  if (actual === expected) {
    say(`    ✓ out.{${SESSION_ID}} holds ${actual} queued jobs, as expected`);
    return true;
  }
  problems.failedCountChecks++;
  say(`    ✗ out.{${SESSION_ID}} holds ${actual} queued jobs, expected ${expected}`);
  return false;
}

/** Runs `fn` on a fresh private redis-server with `persistence`, stopped afterwards. */
async function onFreshRedis(persistence, fn) {
  const redis = await startRedis(persistence);
  try {
    return await fn(redis);
  } finally {
    await redis.stop();
  }
}

/** A warm-up of raw Queue.add in another queue: JIT and script loading are not timed. */
async function warmRawBullmq(common) {
  await benchQueueAdd({
    ...common,
    count: warmupCount(),
    inFlight: IN_FLIGHT,
    queueName: `out.{${WARMUP_SESSION}}`,
  });
}

function rawCommon(redis) {
  return {
    redisUrl: redis.url,
    prefix: uniquePrefix('raw'),
    meters: { redis: redis.cpuTimeMs, machine: machineBusyMs },
  };
}

/** Raw BullMQ Queue.add on `redis`, 64 in flight, for one phase. */
async function measureRawAdd(redis, label = '') {
  const common = rawCommon(redis);
  await warmRawBullmq(common);
  const add = report(
    `${label}raw Queue.add (${IN_FLIGHT} in flight)`,
    await benchQueueAdd({ ...common, durationMs: phaseMs(), inFlight: IN_FLIGHT }),
    { unit: 'jobs', callName: 'add' },
  );
  await checkQueued(redis.url, common.prefix, add.units);
  return add;
}

/** Raw BullMQ FlowProducer.addBulk of 1000-job batches on `redis`, for one phase. */
async function measureRawFlow(redis) {
  const common = rawCommon(redis);
  await warmRawBullmq(common);
  const flow = report(
    `raw FlowProducer.addBulk ×${BULK_SIZE} (${BULK_IN_FLIGHT} in flight)`,
    await benchFlowAddBulk({
      ...common,
      durationMs: phaseMs(),
      batchSize: BULK_SIZE,
      inFlight: BULK_IN_FLIGHT,
    }),
    { unitsPerCall: BULK_SIZE, unit: 'jobs', callName: 'batch' },
  );
  await checkQueued(redis.url, common.prefix, flow.units);
  return flow;
}

/** Requests sent before timing starts (JIT, connection pools, Lua scripts loaded). */
function warmupCount() {
  return SMOKE ? 200 : 3000;
}

/**
 * Starts a gateway (`replicas` processes) on `redis` with a fresh prefix and the bench session,
 * and sends warm-up messages to another session before anything is timed.
 */
async function startWarmGateway(redis, replicas = 1) {
  const prefix = uniquePrefix('gw');
  const gateway = await startGateway({ redisUrl: redis.url, prefix, apiKey: API_KEY, replicas });
  await createSession(gateway.baseUrl, API_KEY, SESSION_ID);
  await createSession(gateway.baseUrl, API_KEY, WARMUP_SESSION);
  await warmUp(gateway.baseUrl, 'gateway', replicas);
  return {
    ...gateway,
    prefix,
    meters: { gateway: gateway.cpuTimeMs, redis: redis.cpuTimeMs, machine: machineBusyMs },
  };
}

/**
 * Requests to WARMUP_SESSION before anything is timed, with and without keys and in bulk, so
 * every path is compiled (and pools and scripts loaded) first; each process gets its share.
 */
async function warmUp(baseUrl, label, processes) {
  const result = await runConcurrently(warmupCount() * processes, IN_FLIGHT, (i) =>
    sendMessage(baseUrl, API_KEY, i, { sessionId: WARMUP_SESSION, idempotent: i % 2 === 1 }),
  );
  const bulk = await sendBulk(baseUrl, API_KEY, 0, BULK_SIZE, WARMUP_SESSION);
  if (result.failures.count > 0 || bulk !== true) {
    throw new Error(
      `${label} warm-up: ${result.failures.count} requests failed; first: ${result.failures.samples[0] ?? bulk}`,
    );
  }
}

function sendSingles(gateway, idempotent) {
  return runForMetered(gateway.meters, phaseMs(), IN_FLIGHT, (i) =>
    sendMessage(gateway.baseUrl, API_KEY, i, { idempotent }),
  );
}

/** Bulk requests of BULK_SIZE messages, BULK_IN_FLIGHT at once, for one phase. */
function sendBulks(gateway) {
  return runForMetered(gateway.meters, phaseMs(), BULK_IN_FLIGHT, (r) =>
    sendBulk(gateway.baseUrl, API_KEY, r * BULK_SIZE, BULK_SIZE),
  );
}

async function stopGateway(gateway) {
  await gateway.stop();
  closeIdleConnections();
}

/**
 * One timed phase against a fresh gateway of `replicas` processes on `redis`: `send` loads it,
 * then the queue must hold exactly what was accepted.
 */
async function measureOnGateway(redis, label, send, { replicas = 1, reportAs = {} } = {}) {
  const gateway = await startWarmGateway(redis, replicas);
  try {
    const result = report(label, await send(gateway), reportAs);
    await checkQueued(redis.url, gateway.prefix, result.units);
    return result;
  } finally {
    await stopGateway(gateway);
  }
}

const singleLabel = (prefix = '') => `${prefix}gateway single message (${IN_FLIGHT} conns)`;

const FLOOR_LABELS = {
  fastify: `HTTP floor: bare Fastify route (${IN_FLIGHT} conns)`,
  nest: `NestJS floor: bare controller (${IN_FLIGHT} conns)`,
};

/**
 * An HTTP floor (bench/http-floor.js): a bare Fastify route, or a bare NestJS controller on
 * Fastify, under the same load. What any gateway on that stack could reach here at most; the
 * gateway's own work is the distance to it.
 */
async function measureHttpFloor(kind) {
  const floor = await startHttpFloor(kind);
  try {
    // Warmed up as the gateway is, so both are timed compiled.
    const warm = await runConcurrently(warmupCount(), IN_FLIGHT, (i) =>
      sendMessage(floor.baseUrl, API_KEY, i),
    );
    if (warm.failures.count > 0)
      throw new Error(
        `${kind} floor warm-up: ${warm.failures.count} requests failed; first: ${warm.failures.samples[0]}`,
      );
    const meters = { floor: floor.cpuTimeMs, machine: machineBusyMs };
    return report(
      FLOOR_LABELS[kind],
      await runForMetered(meters, phaseMs(), IN_FLIGHT, (i) =>
        sendMessage(floor.baseUrl, API_KEY, i),
      ),
    );
  } finally {
    await floor.stop();
    closeIdleConnections();
  }
}

const BULLMQ_FLOOR_LABELS = {
  single: (processes, coalesce) =>
    `NestJS + BullMQ floor: ${coalesce ? 'addBulk per loop turn' : 'Queue.add'}` +
    `${processes > 1 ? `, ${processes} processes` : ''} (${IN_FLIGHT} conns)`,
  bulk: () => `NestJS + BullMQ floor: addBulk ×${BULK_SIZE} (${BULK_IN_FLIGHT} in flight)`,
};

/**
 * The NestJS + BullMQ floor (bench/http-floor.js, `nest-bullmq`) on `redis`: a bare controller
 * that adds each message as one BullMQ job and does nothing else, under the gateway's load
 * (`bulk`: the bulk phase's); `coalesce`: the single messages of one event-loop turn with one
 * Queue.addBulk. A gateway that adds its messages the same way does at least this much, so a
 * target above this floor's ratio is out of reach on this machine for such a gateway, whatever
 * its own work costs. Its queue is counted like the gateway's.
 */
async function measureBullmqFloor(redis, { bulk = false, processes = 1, coalesce = false } = {}) {
  const prefix = uniquePrefix('floor');
  const floor = await startHttpFloor('nest-bullmq', {
    redisUrl: redis.url,
    prefix,
    processes,
    coalesce,
  });
  try {
    // Warmed up on another session's queue, as the gateway is, so the count is the phase's.
    await warmUp(floor.baseUrl, 'NestJS + BullMQ floor', processes);
    // Loaded as the gateway is (sendSingles, sendBulks).
    const target = {
      baseUrl: floor.baseUrl,
      meters: { floor: floor.cpuTimeMs, redis: redis.cpuTimeMs, machine: machineBusyMs },
    };
    const result = bulk
      ? report(BULLMQ_FLOOR_LABELS.bulk(), await sendBulks(target), { unitsPerCall: BULK_SIZE })
      : report(BULLMQ_FLOOR_LABELS.single(processes, coalesce), await sendSingles(target, false));
    await checkQueued(redis.url, prefix, result.units);
    return result;
  } finally {
    await floor.stop();
    closeIdleConnections();
  }
}

/** A phase's server CPU per message (µs), or null where /proc cannot tell. */
const cpuUs = (phase) => (phase.serverCpuUs === null ? null : round(phase.serverCpuUs));

function ratio(a, b) {
  return b > 0 ? round(a / b, 3) : null;
}

/**
 * The NestJS + BullMQ floor's single-message configurations, each with its own figures: one
 * Queue.add per request, or one addBulk per event-loop turn (`coalesced`), each in one process
 * and in REPLICAS processes (GATEWAY_WORKERS) unless BENCH_REPLICAS=0 skipped those.
 */
function singleFloors(main) {
  return SINGLE_FLOORS.filter(({ key }) => main.bullmqFloor[key]).map(
    ({ key, processes, coalesced }) => ({
      processes,
      coalesced,
      ratio: ratio(main.bullmqFloor[key].rate, main.raw.add.rate),
      p99Ms: round(main.bullmqFloor[key].p99, 2),
    }),
  );
}

/**
 * One line per target: the figure, its ratio, the target, PASS or FAIL, and beside it the NestJS +
 * BullMQ floor (its configuration with the highest rate). A target the gateway missed and that no
 * configuration of the floor met in this run either (rate and, for single messages, p99) is
 * named in `floorMissed` with the floor's figures: on this machine it is out of reach for a
 * gateway that adds each accepted message with BullMQ from a Nest controller, whatever its own
 * work costs. A floor whose ratio is unknown (no raw rate) decides nothing.
 */
function checkTargets(main) {
  const { raw, gw } = main;
  const single = singleFloors(main);
  const rows = [
    {
      name: 'enqueue (single)',
      ratio: ratio(gw.single.rate, raw.add.rate),
      target: TARGETS.single,
      // Compared as the summary holds it (2 decimals), as the floors' p99 are.
      p99: { ms: round(gw.single.p99, 2), target: TARGETS.singleP99Ms },
      floors: single,
    },
    {
      name: 'enqueue with Idempotency-Key',
      ratio: ratio(gw.idempotent.rate, raw.add.rate),
      target: TARGETS.idempotent,
      floors: single.map(({ processes, coalesced, ratio: r }) => ({
        processes,
        coalesced,
        ratio: r,
      })),
    },
    {
      name: 'bulk ×1000',
      ratio: ratio(gw.bulk.rate, raw.flow.rate),
      target: TARGETS.bulk,
      // One process, as the gateway's bulk phase.
      floors: [
        { processes: 1, coalesced: false, ratio: ratio(main.bullmqFloor.bulk.rate, raw.flow.rate) },
      ],
    },
  ];
  say('targets (issue 13; ratios to raw BullMQ in this run, Redis with AOF always)');
  const results = {};
  const floorMissed = {};
  for (const row of rows) {
    const meets = (f) =>
      f.ratio >= row.target && (row.p99 === undefined || f.p99Ms <= row.p99.target);
    let pass = row.ratio !== null && row.ratio >= row.target;
    let detail = `${String(row.ratio).padEnd(6)} × raw (target ≥ ${row.target})`;
    if (row.p99) {
      pass = pass && row.p99.ms <= row.p99.target;
      detail += `, p99 ${round(row.p99.ms, 1)} ms (target ≤ ${row.p99.target})`;
    }
    const best = row.floors.reduce((a, b) => ((b.ratio ?? -1) > (a.ratio ?? -1) ? b : a));
    let floorDetail =
      `NestJS + BullMQ floor ${best.ratio}` +
      (best.p99Ms === undefined ? '' : `, p99 ${best.p99Ms} ms`) +
      (best.coalesced ? ', addBulk per loop turn' : '') +
      (best.processes > 1 ? `, ${best.processes} processes` : '');
    const known = row.floors.every((f) => f.ratio !== null);
    if (!pass && known && !row.floors.some(meets)) {
      floorMissed[row.name] = { target: row.target, floors: row.floors };
      floorDetail += ': the floor missed it too, out of reach here';
    }
    say(`  ${row.name.padEnd(30)} ${detail}  ${pass ? 'PASS' : 'FAIL'}  (${floorDetail})`);
    results[row.name] = pass ? 'PASS' : 'FAIL';
  }
  return { results, floorMissed };
}

function printRatios(main, aofOff, scaled) {
  say('ratios');
  say(
    `  gateway single ÷ raw Queue.add            ${ratio(main.gw.single.rate, main.raw.add.rate)}`,
  );
  say(
    `  gateway keyed ÷ raw Queue.add             ${ratio(main.gw.idempotent.rate, main.raw.add.rate)}`,
  );
  say(
    `  gateway bulk ÷ raw FlowProducer.addBulk   ${ratio(main.gw.bulk.rate, main.raw.flow.rate)}`,
  );
  say(
    `  HTTP floor ÷ raw Queue.add                ${ratio(main.floor.rate, main.raw.add.rate)}` +
      `   (gateway single ÷ HTTP floor ${ratio(main.gw.single.rate, main.floor.rate)})`,
  );
  say(
    `  NestJS floor ÷ raw Queue.add              ${ratio(main.nestFloor.rate, main.raw.add.rate)}` +
      `   (gateway single ÷ NestJS floor ${ratio(main.gw.single.rate, main.nestFloor.rate)})`,
  );
  const { single, bulk } = main.bullmqFloor;
  for (const f of singleFloors(main)) {
    const how = `${f.coalesced ? 'addBulk per turn' : 'Queue.add'}, ${f.processes} proc.`;
    say(`  NestJS + BullMQ floor ÷ raw Queue.add     ${f.ratio}   (${how}; p99 ${f.p99Ms} ms)`);
  }
  say(
    `  gateway single ÷ NestJS + BullMQ floor    ${ratio(main.gw.single.rate, single.rate)}` +
      '   (both one process, Queue.add per message)',
  );
  say(
    `  NestJS + BullMQ bulk floor ÷ raw addBulk  ${ratio(bulk.rate, main.raw.flow.rate)}` +
      `   (gateway bulk ÷ floor ${ratio(main.gw.bulk.rate, bulk.rate)})`,
  );
  if (scaled) {
    say(
      `  GATEWAY_WORKERS=${REPLICAS} ÷ 1 process (single)    ${ratio(scaled.rate, main.gw.single.rate)}` +
        `   (÷ raw Queue.add ${ratio(scaled.rate, main.raw.add.rate)})`,
    );
  }
  say(
    `  AOF off: gateway single ÷ raw Queue.add   ${ratio(aofOff.single.rate, aofOff.raw.add.rate)}`,
  );
  say(
    `  AOF always ÷ AOF off, raw Queue.add       ${ratio(main.raw.add.rate, aofOff.raw.add.rate)}`,
  );
  say(
    `  AOF always ÷ AOF off, gateway single      ${ratio(main.gw.single.rate, aofOff.single.rate)}`,
  );
}

function summary(main, aofOff, scaled, { results: targets, floorMissed }, elapsedMs) {
  const { raw, gw } = main;
  return {
    phaseSec: phaseMs() / 1000,
    smoke: SMOKE,
    redis: 'appendonly yes, appendfsync always',
    raw: {
      addPerSec: round(raw.add.rate),
      addP99Ms: round(raw.add.p99, 2),
      flowAddBulkPerSec: round(raw.flow.rate),
    },
    gateway: {
      singlePerSec: round(gw.single.rate),
      singleP50Ms: round(gw.single.p50, 2),
      singleP99Ms: round(gw.single.p99, 2),
      idempotentPerSec: round(gw.idempotent.rate),
      idempotentP50Ms: round(gw.idempotent.p50, 2),
      idempotentP99Ms: round(gw.idempotent.p99, 2),
      bulkPerSec: round(gw.bulk.rate),
      // Gateway CPU per message (µs, all its processes): robust to other load on the machine.
      singleCpuUsPerMsg: round(gw.single.serverCpuUs ?? 0),
      idempotentCpuUsPerMsg: round(gw.idempotent.serverCpuUs ?? 0),
      bulkCpuUsPerMsg: round(gw.bulk.serverCpuUs ?? 0),
      replicas: scaled ? REPLICAS : null,
      replicasSinglePerSec: scaled ? round(scaled.rate) : null,
      replicasSingleP99Ms: scaled ? round(scaled.p99, 2) : null,
    },
    ratios: {
      singleVsRawAdd: ratio(gw.single.rate, raw.add.rate),
      idempotentVsRawAdd: ratio(gw.idempotent.rate, raw.add.rate),
      bulkVsRawFlowBulk: ratio(gw.bulk.rate, raw.flow.rate),
      replicasVsOneProcess: scaled ? ratio(scaled.rate, gw.single.rate) : null,
    },
    targets,
    aofOff: {
      rawAddPerSec: round(aofOff.raw.add.rate),
      singlePerSec: round(aofOff.single.rate),
      singleP99Ms: round(aofOff.single.p99, 2),
      singleVsRawAdd: ratio(aofOff.single.rate, aofOff.raw.add.rate),
      rawAofAlwaysVsOff: ratio(raw.add.rate, aofOff.raw.add.rate),
      gatewayAofAlwaysVsOff: ratio(gw.single.rate, aofOff.single.rate),
    },
    httpFloor: {
      perSec: round(main.floor.rate),
      p99Ms: round(main.floor.p99, 2),
      vsRawAdd: ratio(main.floor.rate, raw.add.rate),
      gatewaySingleVsFloor: ratio(gw.single.rate, main.floor.rate),
      cpuUsPerReq: main.floor.serverCpuUs === null ? null : round(main.floor.serverCpuUs),
    },
    nestFloor: {
      perSec: round(main.nestFloor.rate),
      p99Ms: round(main.nestFloor.p99, 2),
      vsRawAdd: ratio(main.nestFloor.rate, raw.add.rate),
      gatewaySingleVsFloor: ratio(gw.single.rate, main.nestFloor.rate),
      // CPU per request of the floor server (µs; null where /proc cannot tell): what the
      // framework alone costs.
      cpuUsPerReq: main.nestFloor.serverCpuUs === null ? null : round(main.nestFloor.serverCpuUs),
    },
    // The NestJS + BullMQ floor's figures (measureBullmqFloor); `gatewaySingleVsFloor` is against
    // the one-process Queue.add configuration, the gateway's own design.
    bullmqFloor: {
      // Each single-message configuration (SINGLE_FLOORS; null when skipped), then bulk.
      ...Object.fromEntries(
        SINGLE_FLOORS.map(({ key, processes, coalesced }) => {
          const phase = main.bullmqFloor[key];
          const figures = phase && {
            processes,
            coalesced,
            perSec: round(phase.rate),
            p99Ms: round(phase.p99, 2),
            vsRawAdd: ratio(phase.rate, raw.add.rate),
            cpuUsPerMsg: cpuUs(phase),
          };
          return [key, figures ?? null];
        }),
      ),
      bulk: {
        perSec: round(main.bullmqFloor.bulk.rate),
        vsRawFlowBulk: ratio(main.bullmqFloor.bulk.rate, raw.flow.rate),
        cpuUsPerMsg: cpuUs(main.bullmqFloor.bulk),
      },
      gatewaySingleVsFloor: ratio(gw.single.rate, main.bullmqFloor.single.rate),
      gatewayBulkVsFloor: ratio(gw.bulk.rate, main.bullmqFloor.bulk.rate),
    },
    // Targets the gateway missed and the floor missed too in this run (checkTargets).
    targetsTheFloorMissed: floorMissed,
    inFlight: { single: IN_FLIGHT, bulk: BULK_IN_FLIGHT, bulkSize: BULK_SIZE },
    httpClient: clientKind(),
    maxOtherCpuPercent: worstInterference,
    errors: problems.failedRequests,
    countCheckFailures: problems.failedCountChecks,
    durationSec: round(elapsedMs / 1000, 1),
    node: process.version,
    cpus: os.cpus().length,
  };
}

/**
 * BENCH_ONLY=single|keyed|bulk: that gateway phase alone, after its raw baseline (Queue.add,
 * or FlowProducer.addBulk for bulk), both on fresh Redis with AOF always: a short A/B of two
 * builds (BENCH_GATEWAY_MAIN) or of node flags (BENCH_GATEWAY_NODE_ARGS=--cpu-prof), alternated.
 * No targets are checked; the JSON line holds the two rates, their ratio and the gateway's CPU.
 */
const ONLY = process.env.BENCH_ONLY || '';
const ONLY_PHASES = {
  single: { raw: (redis) => measureRawAdd(redis), send: (gw) => sendSingles(gw, false) },
  keyed: { raw: (redis) => measureRawAdd(redis), send: (gw) => sendSingles(gw, true) },
  bulk: {
    raw: (redis) => measureRawFlow(redis),
    send: (gw) => sendBulks(gw),
    reportAs: { unitsPerCall: BULK_SIZE },
  },
  floor: { raw: (redis) => measureRawAdd(redis), floor: (redis) => measureBullmqFloor(redis) },
  'floor-bulk': {
    raw: (redis) => measureRawFlow(redis),
    floor: (redis) => measureBullmqFloor(redis, { bulk: true }),
  },
};

async function runOnly(durable) {
  const phase = ONLY_PHASES[ONLY];
  if (!phase) throw new Error(`BENCH_ONLY must be one of ${Object.keys(ONLY_PHASES).join(', ')}`);
  const raw = await durable(phase.raw);
  // The measured server: the gateway, or the NestJS + BullMQ floor (its JSON keys say which).
  const who = phase.floor ? 'floor' : 'gateway';
  const measured = await durable((redis) =>
    phase.floor
      ? phase.floor(redis)
      : measureOnGateway(redis, `gateway ${ONLY}`, phase.send, { reportAs: phase.reportAs ?? {} }),
  );
  say(
    JSON.stringify({
      only: ONLY,
      rawPerSec: round(raw.rate),
      [`${who}PerSec`]: round(measured.rate),
      ratio: ratio(measured.rate, raw.rate),
      p99Ms: round(measured.p99, 1),
      [`${who}CpuUsPerMsg`]: measured.serverCpuUs === null ? null : round(measured.serverCpuUs),
      node: process.version,
    }),
  );
  const failed = problems.failedRequests > 0 || problems.failedCountChecks > 0;
  return failed ? 1 : 0;
}

async function main() {
  const started = performance.now();
  assertRedisServerInstalled();
  // The drain's settings are read now: a typo in one must not end a run minutes in.
  drainSettings();
  installCleanupHandlers();
  say(
    `wa-gateway enqueue benchmark: ${phaseMs() / 1000} s per phase${SMOKE ? ' (smoke)' : ''}, ` +
      `node ${process.version}, ${os.cpus().length} CPUs, HTTP client ${clientKind()}`,
  );
  say();

  // Each timed phase gets a fresh redis-server: no phase inherits the data and AOF file of the
  // ones before it (hundreds of thousands of jobs, a rewrite mid-phase), whatever their order.
  say('Redis with appendonly yes, appendfsync always (the main figures), fresh for each phase');
  const durable = (fn) => onFreshRedis('always', fn);
  const main = { raw: {}, gw: {} };
  let scaled = null;
  if (ONLY) return runOnly(durable);
  main.raw.add = await durable((redis) => measureRawAdd(redis));
  main.raw.flow = await durable((redis) => measureRawFlow(redis));
  main.gw.single = await durable((redis) =>
    measureOnGateway(redis, singleLabel(), (gw) => sendSingles(gw, false)),
  );
  main.gw.idempotent = await durable((redis) =>
    measureOnGateway(redis, 'gateway single + Idempotency-Key', (gw) => sendSingles(gw, true)),
  );
  main.gw.bulk = await durable((redis) =>
    measureOnGateway(
      redis,
      `gateway bulk ×${BULK_SIZE} (${BULK_IN_FLIGHT} in flight)`,
      (gw) => sendBulks(gw),
      { reportAs: { unitsPerCall: BULK_SIZE } },
    ),
  );
  main.floor = await measureHttpFloor('fastify');
  main.nestFloor = await measureHttpFloor('nest');
  main.bullmqFloor = {};
  for (const { key, processes, coalesced } of SINGLE_FLOORS) {
    if (processes > 1 && process.env.BENCH_REPLICAS === '0') continue;
    main.bullmqFloor[key] = await durable((redis) =>
      measureBullmqFloor(redis, { processes, coalesce: coalesced }),
    );
  }
  main.bullmqFloor.bulk = await durable((redis) => measureBullmqFloor(redis, { bulk: true }));
  if (process.env.BENCH_REPLICAS !== '0') {
    scaled = await durable((redis) =>
      measureOnGateway(
        redis,
        `gateway GATEWAY_WORKERS=${REPLICAS}: single (${IN_FLIGHT} conns)`,
        (gw) => sendSingles(gw, false),
        { replicas: REPLICAS },
      ),
    );
  }
  say();

  say('Redis without persistence (the cost of durability), fresh for each phase');
  const volatile = (fn) => onFreshRedis('off', fn);
  const aofOff = { raw: {} };
  aofOff.raw.add = await volatile((redis) => measureRawAdd(redis, 'AOF off: '));
  aofOff.single = await volatile((redis) =>
    measureOnGateway(redis, singleLabel('AOF off: '), (gw) => sendSingles(gw, false)),
  );
  say();

  printRatios(main, aofOff, scaled);
  say();
  const targets = checkTargets(main);

  // The worker's side (scripts/bench/drain.js: drain of one and of 50 sessions, idle cost,
  // memory, connections). Its own smoke run is test/bench-drain.e2e-spec.ts; BENCH_DRAIN=0 skips.
  let drain = null;
  if (!SMOKE && process.env.BENCH_DRAIN !== '0') {
    say();
    drain = await runDrainBench();
    for (const [name, value] of [
      ['drain, one session', drain.ratios.oneSession],
      ['drain, many sessions', drain.ratios.manySessions],
    ]) {
      const pass = value !== null && value >= 0.5;
      targets.results[name] = pass ? 'PASS' : 'FAIL';
      say(
        `  ${name.padEnd(30)} ${String(value).padEnd(6)} × raw (target ≥ 0.5)  ${targets.results[name]}`,
      );
    }
    if (drain.problems.length > 0) problems.failedCountChecks += drain.problems.length;
  }
  const elapsedMs = performance.now() - started;
  const failed = problems.failedRequests > 0 || problems.failedCountChecks > 0;
  if (worstInterference > INTERFERENCE_WARNING_PERCENT) {
    say();
    say(
      `note: other processes used up to ${worstInterference}% of a core during a timed phase; ` +
        `figures may be lower than on an idle machine (run again when it is quiet)`,
    );
  }
  say();
  say(
    `finished in ${(elapsedMs / 1000).toFixed(1)} s: ` +
      (failed
        ? `${problems.failedRequests} failed requests, ${problems.failedCountChecks} failed count checks`
        : 'no errors'),
  );
  say(JSON.stringify({ ...summary(main, aofOff, scaled, targets, elapsedMs), drain }));
  return failed ? 1 : 0;
}

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch(async (err) => {
    process.stderr.write(`bench failed: ${err && err.stack ? err.stack : err}\n`);
    await stopEverything();
    process.exitCode = 1;
  })
  .finally(() => {
    // Keep-alive sockets must not hold the process open once the figures are out.
    setTimeout(() => process.exit(), 100).unref();
  });
