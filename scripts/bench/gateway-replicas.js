'use strict';
// Several gateway processes behind one port, the way replicas behind one load balancer would
// serve it: node:cluster forks the built gateway `BENCH_GATEWAY_REPLICAS` times and the listening
// socket is shared (the primary accepts and hands connections out round-robin). The gateway is
// built for replicas (every count and lock it keeps is in Redis), so this measures what a second
// core is worth. Used by bench/processes.js; stops its replicas on SIGTERM.
const cluster = require('node:cluster');

const main = process.argv[2];
const replicas = Number(process.env.BENCH_GATEWAY_REPLICAS || 2);
let stopping = false;

cluster.setupPrimary({ exec: main, execArgv: process.execArgv, silent: false });
for (let i = 0; i < replicas; i++) cluster.fork();
cluster.on('exit', (worker, code, signal) => {
  if (stopping) {
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
    return;
  }
  process.stderr.write(`gateway replica ${worker.process.pid} exited (${signal ?? code})\n`);
  stopping = true;
  for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
  process.exitCode = 1;
});
process.on('SIGTERM', () => {
  stopping = true;
  const alive = Object.values(cluster.workers);
  if (alive.length === 0) process.exit(0);
  for (const w of alive) w.process.kill('SIGTERM');
});
