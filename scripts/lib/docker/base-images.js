'use strict';
// Base images built here, from Debian, for machines that reach no image registry: the project's
// Dockerfiles take their base as a build argument (NODE_IMAGE, default the official node image)
// and the compose file takes REDIS_IMAGE / PROMETHEUS_IMAGE, so the very same files build and run
// on these.
//
// Built once (debootstrap ≈ 20–80 s, then the three images), saved as one tarball in the cache,
// loaded from it afterwards (a few seconds). The tarball's name carries a hash of everything that
// goes into it (recipes, Node and npm versions), so a change rebuilds it.
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { dockerCli, CACHE } = require('./private-dockerd');

const SUITE = 'bookworm';
const RECIPES = path.join(__dirname, 'base');

function execOk(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.status !== 0) {
    const out = `${r.stdout || ''}${r.stderr || ''}`.split('\n').slice(-25).join('\n');
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed (exit ${r.status}):\n${out}`);
  }
  return r.stdout;
}

/** The running Node's npm folder (it sits beside node_modules of the npm that runs us). */
function npmFolder() {
  const candidates = [
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm'),
    execOk('npm', ['root', '-g']).trim() + '/npm',
    '/usr/lib/node_modules/npm',
    '/usr/share/nodejs/npm',
  ];
  const found = candidates.find((c) => fs.existsSync(path.join(c, 'bin', 'npm-cli.js')));
  if (!found) throw new Error('npm not found next to this Node; cannot build the Node base image');
  return fs.realpathSync(found);
}

function hostCaBundle() {
  const bundle = [process.env.NODE_EXTRA_CA_CERTS, process.env.SSL_CERT_FILE, '/etc/ssl/certs/ca-certificates.crt'].find(
    (f) => f && fs.existsSync(f),
  );
  if (!bundle) throw new Error('no CA bundle on the host (/etc/ssl/certs/ca-certificates.crt)');
  return bundle;
}

function baseKey() {
  const h = crypto.createHash('sha256');
  h.update(`${SUITE}\n${process.version}\n`);
  h.update(JSON.parse(fs.readFileSync(path.join(npmFolder(), 'package.json'), 'utf8')).version);
  for (const f of fs.readdirSync(RECIPES).sort()) h.update(f).update(fs.readFileSync(path.join(RECIPES, f)));
  return h.digest('hex').slice(0, 12);
}

/** Image names for this key; Node's tag follows the running Node's major version. */
function baseImages(key = baseKey()) {
  const major = process.version.slice(1).split('.')[0];
  return {
    key,
    debian: `wa-local/debian:${SUITE}-${key}`,
    node: `wa-local/node:${major}-${SUITE}-${key}`,
    redis: `wa-local/redis:7-${SUITE}-${key}`,
    prometheus: `wa-local/prometheus:${SUITE}-${key}`,
  };
}

function imageExists(env, name) {
  return spawnSync(dockerCli(), ['image', 'inspect', name], { env, stdio: 'ignore' }).status === 0;
}

function build(env, name, dockerfile, context, debianImage) {
  execOk(
    dockerCli(),
    ['build', '-q', '-t', name, '-f', path.join(RECIPES, dockerfile), '--build-arg', `DEBIAN_IMAGE=${debianImage}`, context],
    // The legacy builder: Debian's dockerd 20.10 with no buildx plugin on the client.
    { env: { ...env, DOCKER_BUILDKIT: '0' } },
  );
}

function buildAll(env, images, log) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-base-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    log(`debootstrap --variant=minbase ${SUITE}`);
    execOk('debootstrap', ['--variant=minbase', SUITE, rootfs, process.env.DEBIAN_MIRROR || 'http://deb.debian.org/debian']);
    // The host's apt sources (a pinned snapshot, say) carry over: the image installs what the host would.
    const tar = spawnSync('sh', ['-c', `tar -C '${rootfs}' -c . | ${dockerCli()} import - '${images.debian}'`], {
      env,
      encoding: 'utf8',
    });
    if (tar.status !== 0) throw new Error(`docker import failed: ${tar.stderr}`);
    fs.rmSync(rootfs, { recursive: true, force: true });

    const nodeCtx = path.join(work, 'node');
    fs.mkdirSync(nodeCtx);
    fs.copyFileSync(process.execPath, path.join(nodeCtx, 'node'));
    fs.chmodSync(path.join(nodeCtx, 'node'), 0o755);
    fs.cpSync(npmFolder(), path.join(nodeCtx, 'npm'), { recursive: true, dereference: true });
    fs.copyFileSync(hostCaBundle(), path.join(nodeCtx, 'host-ca.crt'));
    log(`building ${images.node}`);
    build(env, images.node, 'node.Dockerfile', nodeCtx, images.debian);

    const redisCtx = path.join(work, 'redis');
    fs.mkdirSync(redisCtx);
    fs.copyFileSync(path.join(RECIPES, 'redis-entrypoint.sh'), path.join(redisCtx, 'redis-entrypoint.sh'));
    fs.chmodSync(path.join(redisCtx, 'redis-entrypoint.sh'), 0o755);
    log(`building ${images.redis}`);
    build(env, images.redis, 'redis.Dockerfile', redisCtx, images.debian);

    const promCtx = path.join(work, 'prometheus');
    fs.mkdirSync(promCtx);
    log(`building ${images.prometheus}`);
    build(env, images.prometheus, 'prometheus.Dockerfile', promCtx, images.debian);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Untags base images of earlier keys (another Node version, older recipes): the engine's data
 * root is kept between runs, and they would pile up in it. Layers still used stay.
 */
function removeStaleBases(env, key, log) {
  const r = spawnSync(dockerCli(), ['images', '--format', '{{.Repository}}:{{.Tag}}', 'wa-local/*'], {
    env,
    encoding: 'utf8',
  });
  if (r.status !== 0) return;
  const stale = r.stdout.split('\n').filter((n) => n.startsWith('wa-local/') && !n.endsWith(`-${key}`));
  if (stale.length === 0) return;
  log(`removing base images of earlier recipes: ${stale.join(', ')}`);
  spawnSync(dockerCli(), ['rmi', ...stale], { env, stdio: 'ignore' });
}

/**
 * Makes sure the base images exist in the engine `env` points at: already there, loaded from the
 * cached tarball, or built (and the tarball written). Returns the image names.
 */
function ensureBaseImages(env, log = () => {}) {
  const images = baseImages();
  const names = [images.debian, images.node, images.redis, images.prometheus];
  removeStaleBases(env, images.key, log);
  if (names.every((n) => imageExists(env, n))) return images;
  const dir = path.join(CACHE, 'docker-base');
  const tarball = path.join(dir, `base-${images.key}.tar`);
  if (fs.existsSync(tarball)) {
    log(`loading base images from ${tarball}`);
    execOk(dockerCli(), ['load', '-q', '-i', tarball], { env });
    if (names.every((n) => imageExists(env, n))) return images;
  }
  buildAll(env, images, log);
  fs.mkdirSync(dir, { recursive: true });
  // Older tarballs are for recipes that no longer exist.
  for (const f of fs.readdirSync(dir)) if (f.startsWith('base-') && f !== path.basename(tarball)) fs.rmSync(path.join(dir, f), { force: true });
  execOk(dockerCli(), ['save', '-o', `${tarball}.tmp`, ...names], { env });
  fs.renameSync(`${tarball}.tmp`, tarball);
  log(`base images saved to ${tarball}`);
  return images;
}

module.exports = { ensureBaseImages, baseImages };
