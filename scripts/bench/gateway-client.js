'use strict';
// The HTTP calls the benchmark makes to the gateway, over keep-alive connections.
//
// Clients (BENCH_CLIENT), each with at most 64 connections per server, reused:
// - `undici` (default): undici's Pool, the client issue 13 names. It costs the load generator
//   the least CPU per request of the three (measured: about a third of node:http's), which matters
//   on a 2-core machine where the load generator takes CPU from the gateway it measures.
// - `http`: node:http with a keep-alive Agent.
// - `fetch`: Node's global fetch (~60-75 % of a core at 64 in flight here: it halved the figure).
const http = require('node:http');
const { randomUUID } = require('node:crypto');

const SESSION_ID = 'bench';
const RECIPIENT = '15551234567';
const MAX_SOCKETS = 64;

const CLIENT_KINDS = ['undici', 'http', 'fetch'];

function clientKind() {
  const kind = process.env.BENCH_CLIENT || 'undici';
  if (!CLIENT_KINDS.includes(kind))
    throw new Error(`BENCH_CLIENT must be one of ${CLIENT_KINDS.join(', ')}, got "${kind}"`);
  return kind;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });

/** POST with node:http on the shared keep-alive agent; resolves { status, text }. */
function postWithHttp(url, headers, body) {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(body);
    const req = http.request(url, {
      agent,
      method: 'POST',
      headers: { ...headers, 'content-length': payload.length },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }),
      );
    });
    req.end(payload);
  });
}

async function postWithFetch(url, headers, body) {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, text: await res.text() };
}

/** undici Pools by origin (one per server the run talks to). */
const pools = new Map();

/** undici's Pool, loaded on first use: a checkout installed before it was added needs `npm ci`. */
function undiciPool(origin) {
  let Pool;
  try {
    ({ Pool } = require('undici'));
  } catch (err) {
    throw new Error(
      `the bench's HTTP client undici is not installed (${err.message}): run \`npm ci\`, or BENCH_CLIENT=http`,
    );
  }
  return new Pool(origin, { connections: MAX_SOCKETS });
}

async function postWithUndici(url, headers, body) {
  const { origin, pathname, search } = new URL(url);
  let pool = pools.get(origin);
  if (!pool) pools.set(origin, (pool = undiciPool(origin)));
  const res = await pool.request({ path: pathname + search, method: 'POST', headers, body });
  return { status: res.statusCode, text: await res.body.text() };
}

const post = { undici: postWithUndici, http: postWithHttp, fetch: postWithFetch }[clientKind()];

/** POSTs JSON; resolves true when the status is `expected`, else a short reason. */
async function postExpecting(url, apiKey, body, expected, extraHeaders) {
  const headers = { 'content-type': 'application/json', 'x-api-key': apiKey, ...extraHeaders };
  const res = await post(url, headers, JSON.stringify(body));
  return res.status === expected ? true : `HTTP ${res.status}: ${res.text.slice(0, 200)}`;
}

/** A simulator session without pacing (no worker runs here, but nothing would throttle it). */
async function createSession(baseUrl, apiKey, id = SESSION_ID) {
  const outcome = await postExpecting(
    `${baseUrl}/api/sessions`,
    apiKey,
    { id, driver: 'simulator', rateLimit: { perMinute: 0, minDelayMs: 0, maxDelayMs: 0 } },
    201,
  );
  if (outcome !== true) throw new Error(`creating session "${id}" failed: ${outcome}`);
}

function message(i) {
  return { to: RECIPIENT, text: `bench message ${i}` };
}

/** One message; true on 202, else a reason. With `idempotent`, a unique Idempotency-Key header. */
function sendMessage(baseUrl, apiKey, i, { idempotent = false, sessionId = SESSION_ID } = {}) {
  const extra = idempotent ? { 'idempotency-key': `bench-${randomUUID()}` } : undefined;
  return postExpecting(
    `${baseUrl}/api/sessions/${sessionId}/messages`,
    apiKey,
    message(i),
    202,
    extra,
  );
}

/** Messages [first, first + count) in one bulk request; true on 202, else a reason. */
function sendBulk(baseUrl, apiKey, first, count, sessionId = SESSION_ID) {
  const messages = Array.from({ length: count }, (_, k) => message(first + k));
  return postExpecting(
    `${baseUrl}/api/sessions/${sessionId}/messages/bulk`,
    apiKey,
    { messages },
    202,
  );
}

/**
 * Closes the keep-alive connections (of a server that is going away): called once every request
 * of a phase has been answered, so none is in flight.
 */
function closeIdleConnections() {
  agent.destroy();
  for (const pool of pools.values()) pool.close().catch(() => undefined);
  pools.clear();
}

module.exports = {
  SESSION_ID,
  clientKind,
  closeIdleConnections,
  createSession,
  sendBulk,
  sendMessage,
};
