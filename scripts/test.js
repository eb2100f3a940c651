#!/usr/bin/env node
// `npm test`: lints, builds the apps (e2e specs run the built processes), starts a private
// redis-server on a free port for the run, then runs every jest project against it.
// Extra arguments go to jest (e.g. `npm test -- --selectProjects unit`).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ensureDependencies } = require('./lib/dependencies');
const { ensureHostPackages, TEST_PACKAGES } = require('./lib/docker/host-packages');

const root = path.join(__dirname, '..');

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not listen on ${port}`);
}

async function main() {
  ensureDependencies(root);
  // Debian packages the suite drives (redis-server, Chromium, Prometheus, Docker, debootstrap):
  // installed with apt-get when missing and running as root, else a message naming them.
  try {
    ensureHostPackages((line) => process.stdout.write(`${line}\n`), TEST_PACKAGES);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
  // Lint first: a floating promise in a queue system loses messages.
  if (run('npm', ['run', '--silent', 'lint']) !== 0) process.exit(1);
  if (run('npm', ['run', '--silent', 'build']) !== 0) process.exit(1);

  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-test-redis-'));
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
    { stdio: 'ignore' },
  );
  let code = 1;
  try {
    await waitForPort(port, 10000);
    const jestBin = require.resolve('jest/bin/jest');
    code = run(process.execPath, [jestBin, '--runInBand', ...process.argv.slice(2)], {
      TEST_REDIS_URL: `redis://127.0.0.1:${port}`,
    });
  } finally {
    redis.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(code);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
