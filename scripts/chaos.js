#!/usr/bin/env node
// `npm run chaos`: proves the promise: every message answered 202 is sent exactly once,
// whatever crashes. A private redis-server (AOF always), a gateway and two workers on the
// simulator, three sessions. A client posts messages with unique Idempotency-Keys, retrying on
// connection errors, 409 and 5xx with the same key, while this script SIGKILLs and restarts
// workers, injects every simulator fault, SIGKILLs and restarts Redis once and the gateway once.
// Then it waits for the queues to drain and compares what was accepted with the simulator
// outboxes. Passes only with lost = 0, duplicated = 0, failed = 0. The JSON summary is printed
// last. `--short` runs a smaller round (used by the e2e suite).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { freePort, sleep, terminate, waitForRedis, waitForHealthy } = require('./bench/processes');

const ROOT = path.join(__dirname, '..');
const MAINS = {
  gateway: path.join(ROOT, 'dist/apps/gateway/apps/gateway/src/main.js'),
  worker: path.join(ROOT, 'dist/apps/sender-worker/apps/sender-worker/src/main.js'),
};
const SHORT = process.argv.includes('--short');
const MESSAGES = Number(process.env.CHAOS_MESSAGES || (SHORT ? 300 : 1000));
const WORKER_KILLS = Number(process.env.CHAOS_WORKER_KILLS || (SHORT ? 2 : 6));
const POST_RATE = Number(process.env.CHAOS_POST_RATE || 60); // messages per second
const FAULTS = ['browser-crash', 'frame-detached', 'session-closed', 'conflict', 'logout', 'hang', 'memory-pressure'];
const SESSIONS = ['chaos-a', 'chaos-b', 'chaos-c'];
const API_KEY = 'chaos-key-0123456789abcdef';
const FINAL = new Set(['sent', 'delivered', 'read', 'failed', 'cancelled', 'expired']);
const SENT = new Set(['sent', 'delivered', 'read']);

const log = (msg) => process.stdout.write(`[chaos] ${msg}\n`);

/** Every child ever started: SIGKILLed on exit, whatever ends this script. */
const everyChild = new Set();
process.once('exit', () => {
  for (const c of everyChild) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** A child process that can be SIGKILLed and started again with the same arguments. */
class Restartable {
  constructor(name, start) {
    this.name = name;
    this.startFn = start;
    this.child = null;
    this.output = [];
  }
  async start() {
    this.child = this.startFn();
    everyChild.add(this.child);
    const keep = (c) => {
      this.output.push(c.toString());
      if (this.output.length > 500) this.output.splice(0, 250);
      if (process.env.CHAOS_VERBOSE) process.stderr.write(`[${this.name}] ${c}`);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    return this.child;
  }
  async kill() {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise((resolve) => {
      c.once('exit', resolve);
      c.kill('SIGKILL');
    });
  }
  async stop() {
    if (this.child) await terminate(this.child, 5000);
  }
}

class Cluster {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-chaos-'));
    this.prefix = `chaos-${Date.now().toString(36)}`;
  }

  async start() {
    this.redisPort = await freePort();
    this.gatewayPort = await freePort();
    this.redisUrl = `redis://127.0.0.1:${this.redisPort}`;
    this.baseUrl = `http://127.0.0.1:${this.gatewayPort}`;
    this.redis = new Restartable('redis', () =>
      spawn('redis-server', ['--port', String(this.redisPort), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' }),
    );
    await this.startRedis();
    const env = {
      ...process.env,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.prefix,
      API_KEYS: API_KEY,
      DEFAULT_DRIVER: 'simulator',
      LOG_LEVEL: process.env.CHAOS_LOG_LEVEL || 'warn',
      SESSION_LEASE_MS: '2000',
      SEND_TIMEOUT_MS: '1500',
      HEALTH_CHECK_INTERVAL_MS: '1000',
      HEALTH_CHECK_TIMEOUT_MS: '1000',
      RATE_LIMIT_PER_MINUTE: '100000000',
      CONTROL_TIMEOUT_MS: '1500',
      SHUTDOWN_GRACE_MS: '2000',
      PORT: String(this.gatewayPort),
      HOST: '127.0.0.1',
    };
    const node = (main, extra) => spawn(process.execPath, [main], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.gateway = new Restartable('gateway', () => node(MAINS.gateway, {}));
    this.workers = ['worker-1', 'worker-2'].map((id) => new Restartable(id, () => node(MAINS.worker, { WORKER_ID: id })));
    await this.startGateway();
    for (const w of this.workers) await w.start();
  }

  async startRedis() {
    const child = await this.redis.start();
    await waitForRedis(this.redisUrl, child, 20000);
  }

  async startGateway() {
    const child = await this.gateway.start();
    await waitForHealthy(this.baseUrl, child, this.gateway.output, 30000);
  }

  async stop() {
    for (const w of this.workers ?? []) await w.stop().catch(() => undefined);
    await this.gateway?.stop().catch(() => undefined);
    await this.redis?.kill().catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  async api(method, route, body, headers = {}) {
    const res = await fetch(`${this.baseUrl}${route}`, {
      method,
      headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10000),
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: json };
  }

  /** Retries through outages (connection refused, 503, 409) until the call answers. */
  async apiPatiently(method, route, body, headers, okStatuses, timeoutMs = 60000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const res = await this.api(method, route, body, headers);
        if (okStatuses.includes(res.status)) return res;
        if (res.status < 500 && ![404, 409, 429].includes(res.status)) {
          throw new Error(`${method} ${route} answered ${res.status} ${JSON.stringify(res.body)}`);
        }
      } catch (err) {
        if (err instanceof Error && /answered/.test(err.message)) throw err;
      }
      if (Date.now() > deadline) throw new Error(`${method} ${route}: no answer in ${timeoutMs} ms`);
      await sleep(100 + Math.random() * 200);
    }
  }
}

/** The client: posts messages with unique keys, retrying with the same key until 202. */
async function produce(cluster, stats) {
  const accepted = new Map(); // id -> {session, text}
  const interval = 1000 / POST_RATE;
  let next = 0;
  const started = Date.now();
  async function postOne(i) {
    const session = SESSIONS[i % SESSIONS.length];
    const key = `chaos-${i}`;
    const body = { to: `1555123${String(i % 10000).padStart(4, '0')}`, text: `chaos message ${i}` };
    for (;;) {
      stats.requests++;
      try {
        const res = await cluster.api('POST', `/api/sessions/${session}/messages`, body, { 'idempotency-key': key });
        if (res.status === 202) {
          accepted.set(res.body.id, { session, text: body.text, key });
          return;
        }
        if (!(res.status >= 500 || res.status === 409 || res.status === 429)) {
          throw new Error(`message ${i}: unexpected ${res.status} ${JSON.stringify(res.body)}`);
        }
        stats.retriedStatus[res.status] = (stats.retriedStatus[res.status] || 0) + 1;
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('message ')) throw err;
        stats.retriedStatus.connection = (stats.retriedStatus.connection || 0) + 1;
      }
      await sleep(100 + Math.random() * 200);
    }
  }
  const inFlight = new Set();
  while (next < MESSAGES) {
    const i = next++;
    const p = postOne(i).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 16) await Promise.race(inFlight);
    const due = started + next * interval;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  await Promise.all(inFlight);
  return accepted;
}

function percentile(values, p) {
  if (values.length === 0) return null;
  // Nearest rank: the smallest value with at least p % of the values at or below it.
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Injects one fault on a ready session and measures detection and recovery. */
async function injectFault(cluster, type, record) {
  const deadline = Date.now() + 30000;
  for (;;) {
    if (Date.now() > deadline) {
      record.skipped++;
      return;
    }
    const list = await cluster.api('GET', '/api/sessions').catch(() => null);
    const ready = list?.status === 200 ? list.body.sessions.filter((s) => s.status === 'ready') : [];
    if (ready.length === 0) {
      await sleep(200);
      continue;
    }
    const session = ready[Math.floor(Math.random() * ready.length)].id;
    const t0 = Date.now();
    const res = await cluster.api('POST', `/api/sessions/${session}/simulator/faults`, { type }).catch(() => null);
    if (res?.status !== 202) {
      await sleep(200);
      continue;
    }
    record.injected++;
    let detectedAt = null;
    let recoveredAt = null;
    const until = Date.now() + 30000;
    while (Date.now() < until) {
      const s = await cluster.api('GET', `/api/sessions/${session}`).catch(() => null);
      const now = Date.now();
      if (s?.status === 200) {
        const errAt = s.body.lastError ? Date.parse(s.body.lastError.at) : 0;
        if (detectedAt === null && (s.body.status !== 'ready' || errAt >= t0)) {
          detectedAt = errAt >= t0 ? errAt : now;
        }
        if (detectedAt !== null && s.body.status === 'ready') {
          recoveredAt = now;
          break;
        }
      }
      await sleep(20);
    }
    if (detectedAt !== null) record.detectionMs.push(detectedAt - t0);
    if (recoveredAt !== null) record.recoveryMs.push(recoveredAt - t0);
    else record.unrecovered++;
    return;
  }
}

/** The chaos: worker kills, every fault, one Redis crash, one gateway crash, spread in time. */
async function unleash(cluster, kills, faults, producing) {
  const actions = [];
  for (let i = 0; i < WORKER_KILLS; i++) actions.push({ kind: 'worker', index: i % cluster.workers.length });
  for (const type of FAULTS) actions.push({ kind: 'fault', type });
  if (!SHORT) for (const type of FAULTS) actions.push({ kind: 'fault', type });
  // Shuffle, then place the Redis and gateway crashes in the middle of the run.
  for (let i = actions.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [actions[i], actions[j]] = [actions[j], actions[i]];
  }
  actions.splice(Math.floor(actions.length * 0.4), 0, { kind: 'redis' });
  actions.splice(Math.floor(actions.length * 0.7), 0, { kind: 'gateway' });
  const expectedMs = (MESSAGES / POST_RATE) * 1000;
  const gap = Math.max(300, expectedMs / (actions.length + 1));
  for (const action of actions) {
    await sleep(gap * (0.5 + Math.random()));
    if (action.kind === 'worker') {
      const w = cluster.workers[action.index];
      log(`SIGKILL ${w.name}`);
      await w.kill();
      kills.worker++;
      await sleep(200 + Math.random() * 600);
      await w.start();
    } else if (action.kind === 'redis') {
      log('SIGKILL redis-server');
      await cluster.redis.kill();
      kills.redis++;
      await sleep(1000);
      await cluster.startRedis();
      log('redis-server restarted from its AOF');
    } else if (action.kind === 'gateway') {
      log('SIGKILL gateway');
      await cluster.gateway.kill();
      kills.gateway++;
      await sleep(300);
      await cluster.startGateway();
    } else {
      log(`fault ${action.type}`);
      await injectFault(cluster, action.type, faults[action.type]);
    }
  }
  await producing;
}

/** Waits until every accepted message is final; returns their records. */
async function drain(cluster, accepted, timeoutMs) {
  const records = new Map();
  const deadline = Date.now() + timeoutMs;
  let pending = [...accepted.keys()];
  while (pending.length > 0 && Date.now() < deadline) {
    const still = [];
    for (let i = 0; i < pending.length; i += 25) {
      const batch = pending.slice(i, i + 25);
      const answers = await Promise.all(batch.map((id) => cluster.api('GET', `/api/messages/${id}`).catch(() => null)));
      answers.forEach((res, k) => {
        const id = batch[k];
        if (res?.status === 200 && FINAL.has(res.body.status)) records.set(id, res.body);
        else still.push(id);
      });
    }
    pending = still;
    if (pending.length) await sleep(500);
  }
  return { records, pending };
}

async function main() {
  const started = Date.now();
  for (const m of Object.values(MAINS)) {
    if (!fs.existsSync(m)) throw new Error(`${path.relative(ROOT, m)} is missing: run npm run build first`);
  }
  const cluster = new Cluster();
  const stop = () => cluster.stop();
  process.once('SIGINT', () => stop().finally(() => process.exit(130)));
  try {
    await cluster.start();
    for (const id of SESSIONS) {
      await cluster.apiPatiently('POST', '/api/sessions', { id, driver: 'simulator', rateLimit: { perMinute: 0, minDelayMs: 0, maxDelayMs: 0 }, simulator: { linkAfterMs: 200, sendLatencyMs: 15 } }, {}, [201]);
    }
    log(`${MESSAGES} messages over ${SESSIONS.length} sessions, ${WORKER_KILLS} worker kills, faults: ${FAULTS.join(', ')}`);
    const stats = { requests: 0, retriedStatus: {} };
    const kills = { worker: 0, redis: 0, gateway: 0 };
    const faults = Object.fromEntries(FAULTS.map((f) => [f, { injected: 0, skipped: 0, unrecovered: 0, detectionMs: [], recoveryMs: [] }]));
    const producing = produce(cluster, stats);
    producing.catch(() => undefined); // awaited below; this only keeps a failure from crashing us first
    await unleash(cluster, kills, faults, producing);
    const accepted = await producing;
    log(`${accepted.size} accepted; waiting for the queues to drain`);
    const { records, pending } = await drain(cluster, accepted, 180000);

    const sentCount = new Map();
    for (const id of SESSIONS) {
      const res = await cluster.apiPatiently('GET', `/api/sessions/${id}/simulator/outbox`, undefined, {}, [200]);
      for (const m of res.body.messages) sentCount.set(m.messageId, (sentCount.get(m.messageId) || 0) + 1);
    }
    const ids = [...accepted.keys()];
    const lost = ids.filter((id) => !sentCount.has(id) && !['cancelled', 'expired'].includes(records.get(id)?.status));
    const duplicated = ids.filter((id) => (sentCount.get(id) || 0) > 1);
    const failed = ids.filter((id) => records.get(id)?.status === 'failed');
    const expired = ids.filter((id) => records.get(id)?.status === 'expired');
    const unacknowledged = ids.filter((id) => sentCount.has(id) && !SENT.has(records.get(id)?.status));
    const summary = {
      passed: lost.length === 0 && duplicated.length === 0 && failed.length === 0 && pending.length === 0,
      accepted: accepted.size,
      sent: ids.filter((id) => sentCount.has(id)).length,
      lost: lost.length,
      duplicated: duplicated.length,
      failed: failed.length,
      expired: expired.length,
      notDrained: pending.length,
      recordNotSent: unacknowledged.length,
      kills,
      faults: Object.fromEntries(
        Object.entries(faults).map(([type, r]) => [
          type,
          {
            injected: r.injected,
            skipped: r.skipped,
            unrecovered: r.unrecovered,
            detectionMs: { p50: percentile(r.detectionMs, 50), max: r.detectionMs.length ? Math.max(...r.detectionMs) : null },
            recoveryMs: { p50: percentile(r.recoveryMs, 50), max: r.recoveryMs.length ? Math.max(...r.recoveryMs) : null },
          },
        ]),
      ),
      client: stats,
      durationMs: Date.now() - started,
    };
    log(`accepted ${summary.accepted}, sent ${summary.sent}, lost ${summary.lost}, duplicated ${summary.duplicated}, failed ${summary.failed}, expired ${summary.expired}, not drained ${summary.notDrained}`);
    log(`kills: worker ${kills.worker}, redis ${kills.redis}, gateway ${kills.gateway}`);
    for (const [type, f] of Object.entries(summary.faults)) {
      log(`${type.padEnd(16)} injected ${f.injected}  detection p50 ${f.detectionMs.p50} ms max ${f.detectionMs.max} ms  recovery p50 ${f.recoveryMs.p50} ms max ${f.recoveryMs.max} ms`);
    }
    if (lost.length) log(`lost: ${lost.slice(0, 10).join(', ')}`);
    if (duplicated.length) log(`duplicated: ${duplicated.slice(0, 10).join(', ')}`);
    if (failed.length) log(`failed: ${failed.slice(0, 5).map((id) => `${id} ${JSON.stringify(records.get(id).error)}`).join('; ')}`);
    log(summary.passed ? 'PASSED' : 'FAILED');
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    await stop();
    process.exit(summary.passed ? 0 : 1);
  } catch (err) {
    process.stderr.write(`${err.stack || err}\n`);
    for (const w of [cluster.gateway, ...(cluster.workers || [])]) {
      if (w) process.stderr.write(`--- ${w.name} output ---\n${w.output.join('').slice(-3000)}\n`);
    }
    await stop();
    process.exit(1);
  }
}

void main();
