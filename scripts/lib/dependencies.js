'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** A fresh clone has no node_modules: install exactly the lockfile (npm ci), no browser download. */
function ensureDependencies(root) {
  if (fs.existsSync(path.join(root, 'node_modules', '.package-lock.json'))) return;
  process.stdout.write('Installing dependencies (npm ci)...\n');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: 'true' },
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

module.exports = { ensureDependencies };
