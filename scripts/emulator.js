#!/usr/bin/env node
// `npm run emulator [-- --port N]`: the WhatsApp Web emulator (apps/wa-emulator) as its own
// process. Builds it first when dist/ is missing or older than its sources (like start-local.js),
// then runs the built main, which prints the port and the CHROMIUM_EXTRA_ARGS line.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { checkNodeVersion } = require('./lib/node-version');
const { newestMtime } = require('./lib/build-state');

checkNodeVersion();

const root = path.join(__dirname, '..');
const main = path.join(root, 'dist/apps/wa-emulator/apps/wa-emulator/src/main.js');

// The page files (apps/wa-emulator/page) are read from the source tree: no rebuild for them.
const built = fs.existsSync(main);
if (!built || newestMtime(path.join(root, 'apps/wa-emulator/src')) > fs.statSync(main).mtimeMs) {
  process.stdout.write(`[emulator] ${built ? 'sources changed: rebuilding' : 'building (first run)'}\n`);
  const r = spawnSync('npx', ['nest', 'build', 'wa-emulator'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const child = spawn(process.execPath, [main, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
