#!/usr/bin/env node
/*
 * Summarises a V8 .cpuprofile (node --cpu-prof) as text: the top frames by self time, and self
 * time by package / source file, so a profile can be quoted in a report or an issue.
 *
 *   node scripts/bench/drain-profile.js <file.cpuprofile | dir> [top=25]
 *
 * With a directory, the newest .cpuprofile in it is read.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function newestProfile(target) {
  if (!fs.statSync(target).isDirectory()) return target;
  const files = fs
    .readdirSync(target)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(target, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (!files.length) throw new Error(`no .cpuprofile in ${target}`);
  return files[0];
}

/** Where a frame's code lives: a package under node_modules, our source file, or node itself. */
function origin(url) {
  if (!url) return '(native/V8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return url;
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1).replace(/^dist\/apps\/[^/]+\//, '') : url;
}

function summarise(file, top = 25) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const totalSamples = profile.samples.length;
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  const msPerSample = durationMs / Math.max(1, totalSamples);
  const frames = new Map();
  const origins = new Map();
  let idle = 0;
  for (const [id, count] of hits) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
      const k = name;
      frames.set(k, (frames.get(k) ?? 0) + count);
      if (name === '(idle)') idle += count;
      continue;
    }
    const where = origin(callFrame.url);
    const key = `${name}  ${where}:${callFrame.lineNumber + 1}`;
    frames.set(key, (frames.get(key) ?? 0) + count);
    origins.set(where, (origins.get(where) ?? 0) + count);
  }
  const busy = totalSamples - idle;
  const pct = (n) => `${((100 * n) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  const lines = [];
  lines.push(
    `${path.basename(file)}: ${durationMs.toFixed(0)} ms, busy ${(busy * msPerSample).toFixed(0)} ms ` +
      `(${((100 * busy) / Math.max(1, totalSamples)).toFixed(0)}% of the time); % of busy time`,
  );
  lines.push('top frames by self time:');
  for (const [k, n] of [...frames]
    .filter(([k]) => k !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top))
    lines.push(`  ${pct(n)}  ${k}`);
  lines.push('self time by package / file:');
  for (const [k, n] of [...origins].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(n)}  ${k}`);
  return lines.join('\n');
}

module.exports = { summarise };

if (require.main === module) {
  const [target, top] = process.argv.slice(2);
  if (!target) {
    process.stderr.write(
      'usage: node scripts/bench/drain-profile.js <file.cpuprofile | dir> [top]\n',
    );
    process.exit(2);
  }
  process.stdout.write(`${summarise(newestProfile(target), Number(top) || 25)}\n`);
}
