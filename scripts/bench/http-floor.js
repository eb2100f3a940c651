'use strict';
// The HTTP floors: what an HTTP gateway on this machine could reach with this load generator.
// - `fastify`: a bare Fastify server (the HTTP stack under the gateway) answering 202 with a
//   message id to POST /api/sessions/:id/messages, after parsing the JSON body, and doing
//   nothing else: no key, no validation, no Redis.
// - `nest`: the same route as a NestJS controller on Fastify (bench/nest-floor-server.js), the
//   framework the contract builds the gateway on, with no guard, pipe, logger or Redis.
// Their rates against raw `Queue.add` in the same run bound the gateway's ratio from above: a
// target above a floor cannot be met by any gateway work on that stack on this machine.
const { spawn } = require('node:child_process');
const path = require('node:path');
const {
  cpuTimeMs,
  freePort,
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
};

/** Starts the floor server of `kind` (fastify or nest) on a free port. */
async function startHttpFloor(kind = 'fastify') {
  const args = SERVER_ARGS[kind];
  if (!args) throw new Error(`unknown HTTP floor "${kind}"`);
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Stopped with everything else on Ctrl-C or an error, like the gateway.
  const stop = trackChild(child, () => terminate(child, 2000));
  const output = keepOutputTail(child);
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHealthy(baseUrl, child, output, 10000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl, cpuTimeMs: () => cpuTimeMs(child.pid), stop };
}

module.exports = { startHttpFloor };
