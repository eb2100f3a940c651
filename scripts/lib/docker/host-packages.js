'use strict';
// Debian packages the Docker-based checks need, installed only when missing (as root, like
// .ci/run does for redis-server and chromium). The engine is Debian's docker.io (dockerd 20.10),
// Compose is Debian's docker-compose (v1.29, the Python one), debootstrap builds base images.
const { spawnSync } = require('node:child_process');

const NEEDED = [
  { command: 'dockerd', pkg: 'docker.io' },
  { command: 'docker-compose', pkg: 'docker-compose' },
  { command: 'debootstrap', pkg: 'debootstrap' },
];

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Installs the missing ones with apt-get; throws with the reason when it cannot. */
function ensureHostPackages(log = (line) => process.stderr.write(`${line}\n`)) {
  const missing = NEEDED.filter((n) => !has(n.command)).map((n) => n.pkg);
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

module.exports = { ensureHostPackages };
