'use strict';
// The HTTP floor: what any HTTP gateway on this machine could reach with this load generator.
// A bare Fastify server (the HTTP stack under the gateway) answering 202 with a message id to
// POST /api/sessions/:id/messages, after parsing the JSON body, and doing nothing else: no key,
// no validation, no Redis. Its rate against raw `Queue.add` in the same run bounds the gateway's
// ratio from above; a target above it cannot be met by any gateway work on this machine.
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

async function startHttpFloor() {
  const port = await freePort();
  const child = spawn(process.execPath, ['-e', SERVER], {
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
