'use strict';
// Debian packages the tests need, installed only when missing (as root; otherwise the error says
// what to install). The Docker-based checks need Debian's docker.io (dockerd 20.10), its
// docker-compose (v1.29, the Python one) and debootstrap (base images); the rest of the suite
// needs redis-server, the real Chromium and Prometheus (with promtool).
const { spawnSync } = require('node:child_process');

const DOCKER_PACKAGES = [
  { command: 'dockerd', pkg: 'docker.io' },
  { command: 'docker-compose', pkg: 'docker-compose' },
  { command: 'debootstrap', pkg: 'debootstrap' },
];

/** Everything `npm test` drives (kubectl is not here: Debian's conflicts with the 1.32 we need). */
const TEST_PACKAGES = [
  { command: 'redis-server', pkg: 'redis-server' },
  { command: 'chromium', pkg: 'chromium' },
  { command: 'prometheus', pkg: 'prometheus' },
  { command: 'promtool', pkg: 'prometheus' },
  ...DOCKER_PACKAGES,
];

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Installs the missing ones with apt-get; throws with the reason when it cannot. */
function ensureHostPackages(
  log = (line) => process.stderr.write(`${line}\n`),
  needed = DOCKER_PACKAGES,
) {
  const missing = [...new Set(needed.filter((n) => !has(n.command)).map((n) => n.pkg))];
  if (missing.length === 0) return;
  if (process.getuid && process.getuid() !== 0) {
    throw new Error(`missing ${missing.join(', ')}: install them (apt-get install -y ${missing.join(' ')}) or run as root`);
  }
  log(`installing ${missing.join(', ')} from Debian`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', ...missing]]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0) throw new Error(`apt-get ${args[0]} failed (exit ${r.status})`);
  }
}

module.exports = { ensureHostPackages, DOCKER_PACKAGES, TEST_PACKAGES };
