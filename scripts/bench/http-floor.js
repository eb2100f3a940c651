'use strict';
// The HTTP floors: what an HTTP gateway on this machine could reach with this load generator.
// - `fastify`: a bare Fastify server (the HTTP stack under the gateway) answering 202 with a
//   message id to POST /api/sessions/:id/messages, after parsing the JSON body, and doing
//   nothing else: no key, no validation, no Redis.
// - `nest`: the same route as a NestJS controller on Fastify (bench/nest-floor-server.js), the
//   framework the contract builds the gateway on, with no guard, pipe, logger or Redis.
// - `nest-bullmq`: that controller adding each message as one BullMQ job shaped as the gateway's
//   (`Queue.add`, or one `Queue.addBulk` per event-loop turn; `FlowProducer.addBulk` for
//   …/messages/bulk) to a Redis, and nothing else.
// Their rates against raw BullMQ in the same run bound the ratio of a gateway built the same way
// (the same framework, the same BullMQ calls, as many processes) from above, whatever its own
// work; other designs (longer batching windows, more processes, routes outside Nest) they do not.
const { spawn } = require('node:child_process');
const path = require('node:path');
const {
  freePort,
  sleep,
  treeCpuTimeMs,
  keepOutputTail,
  terminate,
  trackChild,
  waitForHealthy,
} = require('./processes');

const SERVER = `
const fastify = require(${JSON.stringify(require.resolve('fastify', { paths: [path.join(__dirname, '..', '..')] }))})({ logger: false });
let n = 0;
fastify.get('/healthz', async () => ({ status: 'ok' }));
fastify.post('/api/sessions/:id/messages', async (req, reply) => {
  reply.code(202);
  return { id: 'msg_' + (n++), status: 'queued', to: req.body && req.body.to };
});
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
`;

const SERVER_ARGS = {
  fastify: ['-e', SERVER],
  nest: [path.join(__dirname, 'nest-floor-server.js')],
  'nest-bullmq': [path.join(__dirname, 'nest-floor-server.js')],
};

/** How long a floor server may take to listen (two Nest processes on a busy machine). */
const STARTUP_MS = 30000;

/** Resolves once `child` has printed `text` (its output kept by keepOutputTail). */
async function waitForOutput(child, output, text, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!output.join('').includes(text)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const how = child.signalCode ?? child.exitCode;
      throw new Error(`floor server exited (${how}): ${output.join('').slice(-2000)}`);
    }
    if (Date.now() > deadline) throw new Error(`floor server did not print "${text}" in time`);
    await sleep(50);
  }
}

/**
 * Starts the floor server of `kind` (fastify, nest or nest-bullmq) on a free port. `nest-bullmq`
 * needs `redisUrl` and `prefix` (its jobs' QUEUE_PREFIX), runs `processes` processes, and with
 * `coalesce` adds the single messages of one event-loop turn with one Queue.addBulk.
 */
async function startHttpFloor(
  kind = 'fastify',
  { redisUrl, prefix, processes = 1, coalesce = false } = {},
) {
  const args = SERVER_ARGS[kind];
  if (!args) throw new Error(`unknown HTTP floor "${kind}"`);
  if (kind === 'nest-bullmq' && !(redisUrl && prefix))
    throw new Error('the NestJS + BullMQ floor needs a Redis URL and a prefix');
  const port = await freePort();
  const env = { ...process.env, PORT: String(port) };
  if (kind === 'nest-bullmq')
    Object.assign(env, {
      REDIS_URL: redisUrl,
      FLOOR_PREFIX: prefix,
      FLOOR_PROCESSES: String(processes),
      FLOOR_COALESCE: coalesce ? '1' : '0',
    });
  else {
    delete env.REDIS_URL;
    delete env.FLOOR_PREFIX;
    delete env.FLOOR_PROCESSES;
    delete env.FLOOR_COALESCE;
  }
  const child = spawn(process.execPath, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Stopped with everything else on Ctrl-C or an error, like the gateway.
  const stop = trackChild(child, () => terminate(child, 2000));
  const output = keepOutputTail(child);
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    if (kind === 'nest-bullmq') {
      // Every process listening, not only the first to answer: the load's keep-alive
      // connections are spread once, when they open.
      await waitForOutput(child, output, 'floor ready', STARTUP_MS);
    }
    await waitForHealthy(baseUrl, child, output, STARTUP_MS);
  } catch (err) {
    await stop();
    throw err;
  }
  // A cluster's CPU is its primary's and its workers'.
  return { baseUrl, cpuTimeMs: () => treeCpuTimeMs(child.pid), stop };
}

module.exports = { startHttpFloor };
