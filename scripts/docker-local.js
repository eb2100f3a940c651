#!/usr/bin/env node
// `node scripts/docker-local.js`: for a machine that reaches no image registry. Makes sure a
// Docker engine runs (a private one, its own data root and socket, left running; or the one
// WA_DOCKER_HOST names, e.g. unix:///var/run/docker.sock), builds the local Debian base images
// on it (cached in ~/.cache/wa-gateway/docker-base), and prints the environment to run
// docker-compose.yml with them. Installs docker.io, docker-compose and debootstrap from Debian
// when missing (as root).
//
//   eval "$(node scripts/docker-local.js)"   # then: docker-compose up -d --build
'use strict';
const path = require('node:path');
const { ensureHostPackages } = require('./lib/docker/host-packages');
const { startPrivateDockerd, CACHE } = require('./lib/docker/private-dockerd');
const { ensureBaseImages } = require('./lib/docker/base-images');

// Progress goes to stderr: stdout is only the `export` lines, for eval.
const log = (line) => process.stderr.write(`${line}\n`);

async function main() {
  ensureHostPackages(log);
  let host = process.env.WA_DOCKER_HOST;
  if (!host) {
    // Not stopped on exit: the engine is for the user's compose commands that follow.
    // Its own data root: `npm test`'s Compose e2e uses ~/.cache/wa-gateway/dockerd and stops an
    // engine it finds running there; this one is the user's and must outlive the tests.
    const engine = await startPrivateDockerd({ log, root: path.join(CACHE, 'dockerd-local') });
    host = engine.host;
    const pidFile = path.join(engine.root, 'dockerd.pid');
    log(`private dockerd running; stop it with: kill $(cat ${pidFile})`);
  }
  const images = ensureBaseImages({ ...process.env, DOCKER_HOST: host }, log);
  const env = {
    DOCKER_HOST: host,
    // Debian's engine and client have no buildx: the legacy builder.
    DOCKER_BUILDKIT: '0',
    COMPOSE_DOCKER_CLI_BUILD: '0',
    NODE_IMAGE: images.node,
    REDIS_IMAGE: images.redis,
    PROMETHEUS_IMAGE: images.prometheus,
  };
  for (const [k, v] of Object.entries(env)) process.stdout.write(`export ${k}=${v}\n`);
  log(`base images ready on ${host} (cached in ${path.join(CACHE, 'docker-base')})`);
}

main().catch((err) => {
  log(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
