'use strict';
// A Docker engine of our own: its own data root (kept in the cache, so image layers survive
// between runs), its own exec root and socket, stopped afterwards. Nothing touches a system
// dockerd or /var/lib/docker.
//
// Only one engine may run on the host: every dockerd creates the `docker0` bridge and its
// iptables chains, so two would fight over them. Starting fails with a clear message while any
// other dockerd runs (the system's, another data root's); an engine left behind on this data
// root by a killed run is stopped first (its pid file).
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'wa-gateway');

function defaultRoot() {
  return process.env.WA_DOCKERD_ROOT || path.join(CACHE, 'dockerd');
}

/** The docker CLI to use: Debian's own client matches its engine; another one negotiates down. */
function dockerCli() {
  return fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids and command lines of every running dockerd, from /proc. */
function runningDockerds() {
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'dockerd') continue;
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid: Number(entry), cmd });
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

async function sleep(ms) {
  await new Promise((r) => setTimeout(r, ms));
}

async function waitGone(pid, ms) {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  return !alive(pid);
}

/**
 * Starts dockerd on `<root>/data` with its socket and exec root under a short /tmp folder (a unix
 * socket path must stay under 108 bytes). Returns { host, env, stop }: `env` is what a child
 * process needs (DOCKER_HOST), `stop()` stops the engine (containers still running are killed by
 * it) and releases the lock.
 */
async function startPrivateDockerd({ root = defaultRoot(), log = () => {} } = {}) {
  fs.mkdirSync(root, { recursive: true });
  const pidFile = path.join(root, 'dockerd.pid');
  const logFile = path.join(root, 'dockerd.log');

  // Another engine (the system's, or `scripts/docker-local.js`'s on its own data root) would share
  // docker0 and the iptables chains with ours: refuse, and say how to use it instead.
  const dataFlag = path.join(root, 'data');
  const others = runningDockerds().filter((d) => !d.cmd.includes(dataFlag));
  if (others.length > 0) {
    throw new Error(
      `another dockerd runs (pid ${others[0].pid}: ${others[0].cmd}); two engines on one host ` +
        'fight over docker0 and its iptables rules. Stop it, or point WA_DOCKER_HOST at it ' +
        '(e.g. WA_DOCKER_HOST=unix:///var/run/docker.sock) to run on that engine.',
    );
  }

  if (fs.existsSync(pidFile)) {
    const old = Number(fs.readFileSync(pidFile, 'utf8'));
    if (old > 0 && alive(old)) {
      const cmd = fs.existsSync(`/proc/${old}/cmdline`) ? fs.readFileSync(`/proc/${old}/cmdline`, 'utf8') : '';
      if (!cmd.includes(path.join(root, 'data'))) {
        fs.rmSync(pidFile, { force: true });
      } else if (process.env.WA_DOCKERD_TAKEOVER === '0') {
        throw new Error(`a private dockerd (pid ${old}) already runs on ${root}`);
      } else {
        // Left behind by a run that was killed: its containers belong to nobody any more.
        log(`stopping the private dockerd left behind (pid ${old})`);
        process.kill(old, 'SIGTERM');
        if (!(await waitGone(old, 30000))) process.kill(old, 'SIGKILL');
      }
    }
  }

  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-dockerd-'));
  const socket = path.join(run, 'docker.sock');
  const out = fs.openSync(logFile, 'w');
  const child = spawn(
    'dockerd',
    [
      '--data-root', path.join(root, 'data'),
      '--exec-root', path.join(run, 'exec'),
      '--pidfile', pidFile,
      '--host', `unix://${socket}`,
      // No metrics, no experimental features, no userland proxy for published ports: iptables
      // rules only (the test reaches the published port on 127.0.0.1 like a user would).
      '--userland-proxy=false',
    ],
    { stdio: ['ignore', out, out], detached: true },
  );
  fs.closeSync(out);
  child.unref();

  const env = { DOCKER_HOST: `unix://${socket}` };
  const deadline = Date.now() + 60000;
  for (;;) {
    const r = spawnSync(dockerCli(), ['version', '--format', '{{.Server.Version}}'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    if (r.status === 0) {
      log(`private dockerd ${r.stdout.trim()} on ${socket} (data root ${root})`);
      break;
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      throw new Error(`dockerd did not start (log ${logFile}):\n${tail}`);
    }
    await sleep(200);
  }

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    if (alive(child.pid)) {
      process.kill(child.pid, 'SIGTERM');
      if (!(await waitGone(child.pid, 30000))) process.kill(child.pid, 'SIGKILL');
    }
    fs.rmSync(pidFile, { force: true });
    fs.rmSync(run, { recursive: true, force: true });
  }
  return { host: env.DOCKER_HOST, env, stop, root };
}

/**
 * The engine to use: an existing one when WA_DOCKER_HOST names it (development: reuse one engine
 * across many runs; stop() then does nothing), otherwise a private one.
 */
async function useDockerd(opts = {}) {
  if (process.env.WA_DOCKER_HOST) {
    const env = { DOCKER_HOST: process.env.WA_DOCKER_HOST };
    return { host: env.DOCKER_HOST, env, stop: async () => {}, root: null };
  }
  return startPrivateDockerd(opts);
}

module.exports = { startPrivateDockerd, useDockerd, dockerCli, CACHE };
