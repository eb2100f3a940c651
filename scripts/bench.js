#!/usr/bin/env node
/*
 * `npm run bench`: how fast the gateway accepts messages, measured against raw BullMQ in the
 * same run, on the same private Redis.
 *
 * What is measured (enqueue only: no sender worker runs, so every accepted message stays queued):
 *   raw      Queue.add of N jobs (64 in flight), and FlowProducer.addBulk of 1000-job batches
 *            (4 in flight), with the gateway's queue name, payload and job options.
 *   gateway  POST /api/sessions/bench/messages N times (64 in flight, keep-alive), the same with
 *            a unique Idempotency-Key per request, and POST …/messages/bulk of 1000 messages
 *            (4 in flight). Every answer must be 202.
 *   durability  the gateway single-message figure again (N/4 messages), each on a fresh Redis
 *            and gateway: without persistence (the reference, same conditions), with
 *            `appendonly yes` + `appendfsync always`, and with `appendfsync everysec`, to state
 *            what durable Redis costs. The main figures above run with persistence off.
 *
 * Why against raw BullMQ: absolute rates depend on the machine, the ratio does not (much). Raw
 * BullMQ is the ceiling of what the gateway can do, since each accepted message ends as one
 * BullMQ job; the ratio shows what HTTP, validation, the API-key guard and throttler, and the
 * message record written before the job cost on top of it.
 *
 * After every phase the queue `out.{bench}` is counted (prioritized + waiting + delayed) and must
 * hold exactly the jobs accepted so far, so no rate is reported for messages that were not stored.
 *
 * Each line also gives the CPU that the benchmark process (the load generator), the gateway and
 * redis-server used meanwhile, in % of one core: on a small machine they share the cores, and
 * these say which one was the limit (a client near 100% would measure the client, not the gateway).
 * `others` is the rest of the machine: load from other processes that disturbs the figures
 * (approximate: /proc accounting is per clock tick).
 *
 * HTTP client: node:http with a keep-alive agent (see bench/gateway-client.js for why not fetch);
 * BENCH_CLIENT=fetch uses Node's global fetch instead.
 *
 * Output: human-readable lines, then one JSON summary as the last line of stdout. Exit code 1 if
 * any request failed or a count check did not match. BENCH_MESSAGES overrides N (default 20000).
 * Needs redis-server on PATH and the built gateway in dist/ (npm run build).
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
const { benchFlowAddBulk, benchQueueAdd, countQueuedJobs } = require('./bench/raw-bullmq');
const {
  SESSION_ID,
  clientKind,
  closeIdleConnections,
  createSession,
  sendBulk,
  sendMessage,
} = require('./bench/gateway-client');
const {
  percentile,
  perSecond,
  round,
  runConcurrently,
  runConcurrentlyMetered,
} = require('./bench/load');

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

function messageCount() {
  const raw = process.env.BENCH_MESSAGES;
  if (raw === undefined || raw === '') return 20000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`BENCH_MESSAGES must be a positive integer, got "${raw}"`);
  }
  return n;
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
  say(
    `  ${label.padEnd(42)} ${String(units).padStart(7)} ${unit} in ${(result.elapsedMs / 1000).toFixed(2).padStart(6)} s` +
      `  → ${String(round(rate)).padStart(6)} ${unit}/s${calls}` +
      `  (p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms per ${callName}; CPU ${cpu})`,
  );
  if (result.failures.count > 0) {
    problems.failedRequests += result.failures.count;
    say(`    ✗ ${result.failures.count} failed; first: ${result.failures.samples.join(' | ')}`);
  }
  return { units, rate, p50, p99, failed: result.failures.count };
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

async function measureRawBullmq(redis, n) {
  say(`raw BullMQ (same Redis, no HTTP)`);
  const prefix = uniquePrefix('raw');
  const common = {
    redisUrl: redis.url,
    prefix,
    count: n,
    meters: { redis: redis.cpuTimeMs, machine: machineBusyMs },
  };
  // Warm-up in another queue, so JIT and script loading are not timed and counts stay exact.
  await benchQueueAdd({
    ...common,
    count: warmupCount(n),
    inFlight: IN_FLIGHT,
    queueName: `out.{${WARMUP_SESSION}}`,
  });

  const add = report(
    `Queue.add (${IN_FLIGHT} in flight)`,
    await benchQueueAdd({ ...common, inFlight: IN_FLIGHT }),
    {
      unit: 'jobs',
      callName: 'add',
    },
  );
  await checkQueued(redis.url, prefix, add.units);

  const flow = report(
    `FlowProducer.addBulk ×${BULK_SIZE} (${BULK_IN_FLIGHT} in flight)`,
    await benchFlowAddBulk({ ...common, batchSize: BULK_SIZE, inFlight: BULK_IN_FLIGHT }),
    { unitsPerCall: n / Math.ceil(n / BULK_SIZE), unit: 'jobs', callName: 'batch' },
  );
  await checkQueued(redis.url, prefix, add.units + flow.units);
  return { add, flow };
}

/** Requests sent before timing starts (JIT, connection pools, Lua scripts loaded). */
function warmupCount(n) {
  return Math.min(2000, Math.max(50, Math.floor(n / 10)));
}

/**
 * Starts a gateway on `redis` with a fresh prefix and the bench session, and sends `warmup`
 * messages to another session before anything is timed.
 */
async function startWarmGateway(redis, warmup) {
  const prefix = uniquePrefix('gw');
  const gateway = await startGateway({ redisUrl: redis.url, prefix, apiKey: API_KEY });
  await createSession(gateway.baseUrl, API_KEY, SESSION_ID);
  await createSession(gateway.baseUrl, API_KEY, WARMUP_SESSION);
  const result = await runConcurrently(warmup, IN_FLIGHT, (i) =>
    sendMessage(gateway.baseUrl, API_KEY, i, { sessionId: WARMUP_SESSION }),
  );
  if (result.failures.count > 0) {
    throw new Error(
      `gateway warm-up: ${result.failures.count} requests failed; first: ${result.failures.samples[0]}`,
    );
  }
  return {
    ...gateway,
    prefix,
    meters: { gateway: gateway.cpuTimeMs, redis: redis.cpuTimeMs, machine: machineBusyMs },
  };
}

function sendSingles(gateway, n, idempotent) {
  return runConcurrentlyMetered(gateway.meters, n, IN_FLIGHT, (i) =>
    sendMessage(gateway.baseUrl, API_KEY, i, { idempotent }),
  );
}

/** Bulk requests of BULK_SIZE messages (the last one smaller when n is not a multiple). */
async function sendBulks(gateway, n) {
  const requests = Math.ceil(n / BULK_SIZE);
  const result = await runConcurrentlyMetered(gateway.meters, requests, BULK_IN_FLIGHT, (r) =>
    sendBulk(gateway.baseUrl, API_KEY, r * BULK_SIZE, Math.min(BULK_SIZE, n - r * BULK_SIZE)),
  );
  return { result, messagesPerRequest: n / requests };
}

async function stopGateway(gateway) {
  await gateway.stop();
  closeIdleConnections();
}

async function measureGateway(redis, n) {
  say(`gateway (HTTP, keep-alive, persistence off)`);
  const redisUrl = redis.url;
  const gateway = await startWarmGateway(redis, warmupCount(n));
  try {
    let stored = 0;
    const single = report(
      `single message (${IN_FLIGHT} in flight)`,
      await sendSingles(gateway, n, false),
    );
    await checkQueued(redisUrl, gateway.prefix, (stored += single.units));

    const idempotent = report(`single + Idempotency-Key`, await sendSingles(gateway, n, true));
    await checkQueued(redisUrl, gateway.prefix, (stored += idempotent.units));

    const bulkRun = await sendBulks(gateway, n);
    const bulk = report(`bulk ×${BULK_SIZE} (${BULK_IN_FLIGHT} in flight)`, bulkRun.result, {
      unitsPerCall: bulkRun.messagesPerRequest,
    });
    await checkQueued(redisUrl, gateway.prefix, (stored += bulk.units));
    return { single, idempotent, bulk };
  } finally {
    await stopGateway(gateway);
  }
}

const PERSISTENCE_LABELS = {
  off: 'no persistence',
  always: 'AOF, appendfsync always',
  everysec: 'AOF, appendfsync everysec',
};

/**
 * The gateway single-message figure on a fresh Redis with the given persistence ('off',
 * 'always', 'everysec') and a fresh gateway, warmed up as much as the main one.
 */
async function measureSingleWithPersistence(persistence, n, warmup) {
  const redis = await startRedis(persistence);
  try {
    const gateway = await startWarmGateway(redis, warmup);
    try {
      const single = report(
        `${PERSISTENCE_LABELS[persistence]}: single`,
        await sendSingles(gateway, n, false),
      );
      await checkQueued(redis.url, gateway.prefix, single.units);
      return single;
    } finally {
      await stopGateway(gateway);
    }
  } finally {
    await redis.stop();
  }
}

function durabilityMessages(n) {
  return Math.max(1, Math.floor(n / 4));
}

function ratio(a, b) {
  return b > 0 ? round(a / b, 3) : null;
}

function printRatios(raw, gw, durability) {
  say('ratios');
  say(`  gateway single ÷ raw Queue.add            ${ratio(gw.single.rate, raw.add.rate)}`);
  say(`  gateway idempotent ÷ raw Queue.add        ${ratio(gw.idempotent.rate, raw.add.rate)}`);
  say(`  gateway bulk ÷ raw FlowProducer.addBulk   ${ratio(gw.bulk.rate, raw.flow.rate)}`);
  say(
    `  AOF always ÷ no persistence (single)      ${ratio(durability.always.rate, durability.off.rate)}`,
  );
  say(
    `  AOF everysec ÷ no persistence (single)    ${ratio(durability.everysec.rate, durability.off.rate)}`,
  );
}

function summary(n, raw, gw, durability, elapsedMs) {
  return {
    messages: n,
    raw: { addPerSec: round(raw.add.rate), flowAddBulkPerSec: round(raw.flow.rate) },
    gateway: {
      singlePerSec: round(gw.single.rate),
      singleP50Ms: round(gw.single.p50, 2),
      singleP99Ms: round(gw.single.p99, 2),
      idempotentPerSec: round(gw.idempotent.rate),
      idempotentP50Ms: round(gw.idempotent.p50, 2),
      idempotentP99Ms: round(gw.idempotent.p99, 2),
      bulkPerSec: round(gw.bulk.rate),
    },
    ratios: {
      singleVsRawAdd: ratio(gw.single.rate, raw.add.rate),
      idempotentVsRawAdd: ratio(gw.idempotent.rate, raw.add.rate),
      bulkVsRawFlowBulk: ratio(gw.bulk.rate, raw.flow.rate),
    },
    durability: {
      messages: durabilityMessages(n),
      noPersistenceSinglePerSec: round(durability.off.rate),
      aofAlwaysSinglePerSec: round(durability.always.rate),
      aofAlwaysSingleP99Ms: round(durability.always.p99, 2),
      aofEverysecSinglePerSec: round(durability.everysec.rate),
      aofEverysecSingleP99Ms: round(durability.everysec.p99, 2),
      aofAlwaysVsNoPersistence: ratio(durability.always.rate, durability.off.rate),
      aofEverysecVsNoPersistence: ratio(durability.everysec.rate, durability.off.rate),
    },
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

async function main() {
  const started = performance.now();
  const n = messageCount();
  assertRedisServerInstalled();
  installCleanupHandlers();
  say(
    `wa-gateway enqueue benchmark: ${n} messages per phase, node ${process.version}, ${os.cpus().length} CPUs, ` +
      `HTTP client ${clientKind()}`,
  );
  say();

  const redis = await startRedis('off');
  let raw;
  let gw;
  try {
    raw = await measureRawBullmq(redis, n);
    say();
    gw = await measureGateway(redis, n);
  } finally {
    await redis.stop();
  }
  say();

  const durableN = durabilityMessages(n);
  say(
    `durability (gateway single message, ${durableN} messages, ${IN_FLIGHT} in flight; ` +
      `fresh Redis and gateway each, the first without persistence as the reference)`,
  );
  const durability = {};
  for (const persistence of ['off', 'always', 'everysec']) {
    durability[persistence] = await measureSingleWithPersistence(
      persistence,
      durableN,
      warmupCount(n),
    );
  }
  say();

  printRatios(raw, gw, durability);
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
  say(JSON.stringify(summary(n, raw, gw, durability, elapsedMs)));
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
