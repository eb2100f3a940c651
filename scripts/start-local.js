#!/usr/bin/env node
// `npm start`: the whole system on one machine, for trying it out with no phone.
// - builds the apps if dist/ is missing or older than the sources;
// - uses the Redis at REDIS_URL, or starts a local redis-server with AOF under ./.data/;
// - starts one gateway and one worker, the simulator as default driver;
// - creates a "demo" simulator session and prints the URLs, the API key and a curl to paste;
// - shows the apps' JSON log lines readable (pino-pretty; LOG_FORMAT=json shows them as they are).
// `npm start -- --emulator` (or START_EMULATOR=1) also starts the WhatsApp Web emulator, points
// the worker's Chromium at it (CHROMIUM_EXTRA_ARGS), makes wwebjs the default driver and links a
// "demo-wa" session with an emulated phone: whatsapp-web.js end to end, still with no phone.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const readline = require('node:readline');
const { newestMtime } = require('./lib/build-state');
const { ensureDependencies } = require('./lib/dependencies');
const { checkNodeVersion } = require('./lib/node-version');
const { lineFormatter, logFormat } = require('./lib/log-format');

// Before anything else: an unusable Node is refused with the way to get Node 24.
checkNodeVersion();
const formatLine = lineFormatter(logFormat(), { colorize: !!process.stdout.isTTY });

const root = path.join(__dirname, '..');
const dataDir = path.join(root, '.data');
const children = [];
let stopping = false;

function log(msg) {
  process.stdout.write(`[start] ${msg}\n`);
}

function ensureBuilt() {
  const mains = ['dist/apps/gateway/apps/gateway/src/main.js', 'dist/apps/sender-worker/apps/sender-worker/src/main.js', 'dist/apps/wa-emulator/apps/wa-emulator/src/main.js'].map((p) => path.join(root, p));
  const built = mains.every((m) => fs.existsSync(m));
  const stale = built && Math.max(newestMtime(path.join(root, 'apps')), newestMtime(path.join(root, 'libs'))) > Math.min(...mains.map((m) => fs.statSync(m).mtimeMs));
  if (built && !stale) return;
  log(built ? 'sources changed: rebuilding' : 'building (first run)');
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** Sends PING over a raw socket: true if a Redis answers at host:port. */
function redisAnswers(host, port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => done(/^\+PONG|^-NOAUTH/.test(d.toString())));
  });
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The URL without its password, for the console. */
function masked(url) {
  // Everything up to the last '@' is credentials (a password may hold '@', ':' or '/').
  return url
    .replace(/^([a-z+]+:\/\/)(.*)@/is, (_m, scheme, userinfo) => `${scheme}${userinfo.includes(':') ? `${userinfo.split(':')[0]}:***` : '***'}@`)
    .replace(/(sentinelPassword=)[^&#]*/, '$1***');
}

async function ensureRedis() {
  const given = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  // A Sentinel URL names the Sentinels (possibly several): the apps find the primary themselves.
  if (given.startsWith('redis+sentinel://')) {
    log(`using the Redis behind the Sentinels at ${masked(given)}`);
    return given;
  }
  const url = new URL(given);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await redisAnswers(host, port)) {
    log(`using the Redis at ${masked(url.href)}`);
    return url.href;
  }
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) {
    process.stderr.write(
      `\nNo Redis answers at ${url.href} and redis-server is not installed.\n` +
        'Install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis),\n' +
        'or point REDIS_URL at a Redis 7 you run (docker run -p 6379:6379 redis:7).\n\n',
    );
    process.exit(1);
  }
  let localPort = port;
  if (!['127.0.0.1', 'localhost'].includes(host) || !(await portFree(localPort))) localPort = 6390;
  const dir = path.join(dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  log(`no Redis at ${url.href}: starting redis-server on 127.0.0.1:${localPort} (AOF under ${path.relative(root, dir)}/)`);
  const redis = spawn(
    'redis-server',
    ['--port', String(localPort), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.push({ name: 'redis', proc: redis, last: true });
  for (let i = 0; i < 100; i++) {
    if (await redisAnswers('127.0.0.1', localPort)) return `redis://127.0.0.1:${localPort}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis-server did not start');
}

function apiKey() {
  if (process.env.API_KEYS) return process.env.API_KEYS.split(',')[0].trim();
  const file = path.join(dataDir, 'api-key');
  fs.mkdirSync(dataDir, { recursive: true });
  if (!fs.existsSync(file)) fs.writeFileSync(file, `local_${crypto.randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  return fs.readFileSync(file, 'utf8').trim();
}

function startApp(name, script, env) {
  const proc = spawn(process.execPath, [path.join(root, script)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  // Line by line (a chunk may end mid-line): the apps' JSON lines made readable on stdout.
  readline.createInterface({ input: proc.stdout }).on('line', (l) => {
    if (l) process.stdout.write(`[${name}] ${formatLine(l)}`);
  });
  readline.createInterface({ input: proc.stderr }).on('line', (l) => {
    if (l) process.stderr.write(`[${name}] ${l}\n`);
  });
  proc.on('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); stopping everything`);
      void shutdown(1);
    }
  });
  children.push({ name, proc });
  return proc;
}

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  const apps = children.filter((c) => !c.last);
  await Promise.all(apps.map((c) => stopChild(c.proc)));
  await Promise.all(children.filter((c) => c.last).map((c) => stopChild(c.proc)));
  process.exit(code);
}

function stopChild(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

const EMULATOR_MAIN = 'dist/apps/wa-emulator/apps/wa-emulator/src/main.js';
/** The emulated phone that links the demo-wa session. */
const EMULATED_PHONE = '15550001111';

/**
 * Starts the emulator (its built main) and resolves with its port and the Chromium flags it
 * printed (the self-signed certificate it made for web.whatsapp.com is new each start).
 */
function startEmulator() {
  const proc = spawn(process.execPath, [path.join(root, EMULATOR_MAIN)], {
    cwd: root,
    env: { ...process.env, EMULATOR_PORT: process.env.EMULATOR_PORT || '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push({ name: 'emulator', proc });
  readline.createInterface({ input: proc.stderr }).on('line', (l) => l && process.stderr.write(`[emulator] ${l}\n`));
  return new Promise((resolve, reject) => {
    const found = {};
    const lines = readline.createInterface({ input: proc.stdout });
    const timer = setTimeout(() => reject(new Error('the emulator did not print its port within 60 s')), 60000);
    lines.on('line', (l) => {
      const port = /^emulator listening on ([^\s]+):(\d+)$/.exec(l);
      if (port) {
        found.host = port[1];
        found.port = Number(port[2]);
      }
      const args = /^CHROMIUM_EXTRA_ARGS="(.*)"$/.exec(l);
      if (args) found.args = args[1];
      if (found.port && found.args !== undefined) {
        clearTimeout(timer);
        // From now on its death stops everything, as an app's does.
        proc.removeAllListeners('exit');
        proc.on('exit', (code, signal) => {
          if (!stopping) {
            log(`emulator exited (${signal ?? code}); stopping everything`);
            void shutdown(1);
          }
        });
        lines.removeAllListeners('line');
        lines.on('line', (rest) => rest && process.stdout.write(`[emulator] ${rest}\n`));
        resolve(found);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the emulator exited (${code}) before it listened`));
    });
  });
}

/** The emulated phone scans the session's QR through the emulator's control API. */
async function linkWithEmulatedPhone(base, key, emulatorUrl, sessionId) {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`${base}/api/sessions/${sessionId}/qr`, {
      headers: { 'x-api-key': key, accept: 'application/json' },
    }).catch(() => null);
    if (res?.status === 200) {
      const { qr } = await res.json();
      const scan = await fetch(`${emulatorUrl}/control/scan`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ qr, phone: EMULATED_PHONE, pushname: 'Emulated phone' }),
      });
      if (scan.ok) return true;
    } else if (res) {
      await res.arrayBuffer();
      const s = await fetch(`${base}/api/sessions/${sessionId}`, { headers: { 'x-api-key': key } })
        .then((r) => r.json())
        .catch(() => null);
      if (s?.status === 'ready') return true; // linked already (its profile survived a restart)
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function main() {
  ensureDependencies(root);
  ensureBuilt();
  const redisUrl = await ensureRedis();
  const key = apiKey();
  const port = process.env.PORT || '3000';
  const env = {
    ...process.env,
    REDIS_URL: redisUrl,
    API_KEYS: process.env.API_KEYS || key,
    DEFAULT_DRIVER: process.env.DEFAULT_DRIVER || 'simulator',
    PORT: port,
    LOG_LEVEL: process.env.LOG_LEVEL || 'info',
  };
  const withEmulator = process.argv.includes('--emulator') || process.env.START_EMULATOR === '1';
  let emulator = null;
  if (withEmulator) {
    emulator = await startEmulator();
    const h = emulator.host.includes(':') ? `[${emulator.host}]` : emulator.host;
    emulator.url = `http://${h}:${emulator.port}`;
    env.CHROMIUM_EXTRA_ARGS = [process.env.CHROMIUM_EXTRA_ARGS, emulator.args].filter(Boolean).join(' ');
    env.DEFAULT_DRIVER = process.env.DEFAULT_DRIVER || 'wwebjs';
    log(`WhatsApp Web emulator on ${emulator.host}:${emulator.port}: the worker's Chromium opens it instead of web.whatsapp.com`);
  }
  startApp('gateway', 'dist/apps/gateway/apps/gateway/src/main.js', env);
  startApp('worker', 'dist/apps/sender-worker/apps/sender-worker/src/main.js', { ...env, WORKER_ID: process.env.WORKER_ID || 'local-worker' });

  const base = `http://localhost:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false);
    if (ok) break;
    if (i > 300) throw new Error('the gateway did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  // A demo session, so the printed curl works at once (409 if it exists from an earlier run).
  await fetch(`${base}/api/sessions`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'demo', driver: 'simulator' }),
  }).catch(() => undefined);
  if (emulator) {
    await fetch(`${base}/api/sessions`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'demo-wa', driver: 'wwebjs' }),
    }).catch(() => undefined);
    const linked = await linkWithEmulatedPhone(base, key, emulator.url, 'demo-wa');
    log(linked ? `the emulated phone +${EMULATED_PHONE} linked the "demo-wa" session (whatsapp-web.js in Chromium)` : 'the "demo-wa" session showed no QR within 2 minutes: see the worker\'s log');
  }

  process.stdout.write(`
  WhatsApp gateway running (${emulator ? 'wwebjs driver on the WhatsApp Web emulator' : 'simulator driver'}: no phone needed)

    API          ${base}/api
    Health       ${base}/api/health   (readiness: ${base}/readyz)
    Redis        ${masked(redisUrl)}
    API key      ${key}

  Send a message through the "demo" session:

    curl -s -X POST ${base}/api/sessions/demo/messages \\
      -H 'X-Api-Key: ${key}' -H 'Content-Type: application/json' \\
      -d '{"to": "+1 555 123 4567", "text": "Hello from the gateway"}'

  Then read its status (use the id it answered):

    curl -s ${base}/api/messages/<id> -H 'X-Api-Key: ${key}'

${emulator ? `  Through whatsapp-web.js on the emulator (session "demo-wa", linked by the emulated phone):

    curl -s -X POST ${base}/api/sessions/demo-wa/messages \\
      -H 'X-Api-Key: ${key}' -H 'Content-Type: application/json' \\
      -d '{"to": "+1 555 123 4567", "text": "Hello through WhatsApp Web"}'

  What the emulated WhatsApp received:  curl -s '${emulator.url}/control/sent?phone=${EMULATED_PHONE}'
  Link another wwebjs session: create it, then   curl -s ${emulator.url}/control/devices
  and  curl -s -X POST ${emulator.url}/control/devices/<deviceId>/link -H 'Content-Type: application/json' -d '{"phone": "15550002222"}'

` : ''}  Ctrl-C stops everything.

`);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  void shutdown(1);
});
