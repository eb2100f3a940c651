#!/usr/bin/env node
/*
 * Summarises a V8 .cpuprofile (node --cpu-prof) as text: the top frames by self time, and self
 * time by package / source file, so a profile can be quoted in a report or an issue.
 *
 *   node scripts/bench/drain-profile.js <file.cpuprofile | dir> [top=25]
 *   node scripts/bench/drain-profile.js --flame <file | dir> [min%=2]   a text flame graph
 *   node scripts/bench/drain-profile.js --folded <file | dir>           folded stacks
 *
 * With a directory, the newest .cpuprofile in it is read. `--flame` prints the call tree top
 * down with each frame's inclusive share of busy time (frames under min% left out), the picture a
 * flame graph draws, as text a closing note can quote; `--folded` prints one `a;b;c <samples>`
 * line per stack, the input of flamegraph.pl / speedscope.
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

/** Samples per stack, root first, idle left out: the tree both flame views are drawn from. */
function stacks(file) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const hits = new Map();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const label = (n) => {
    const name = n.callFrame.functionName || '(anonymous)';
    return n.callFrame.url ? `${name} ${origin(n.callFrame.url)}` : name;
  };
  const out = [];
  for (const [id, count] of hits) {
    const frames = [];
    for (let at = id; at !== undefined; at = parent.get(at)) frames.unshift(label(byId.get(at)));
    if (frames[0] === '(root)') frames.shift();
    if (frames[frames.length - 1] === '(idle)') continue;
    out.push({ frames, count });
  }
  return out;
}

function folded(file) {
  return stacks(file)
    .map((s) => `${s.frames.join(';')} ${s.count}`)
    .sort()
    .join('\n');
}

function flame(file, minPct = 2) {
  const root = { name: '(busy)', total: 0, children: new Map() };
  for (const { frames, count } of stacks(file)) {
    root.total += count;
    let node = root;
    for (const f of frames) {
      let child = node.children.get(f);
      if (!child) node.children.set(f, (child = { name: f, total: 0, children: new Map() }));
      child.total += count;
      node = child;
    }
  }
  const lines = [
    `${path.basename(file)}: inclusive % of busy time, frames under ${minPct}% left out`,
  ];
  const walk = (node, depth) => {
    const share = (100 * node.total) / Math.max(1, root.total);
    if (share < minPct) return;
    lines.push(`${share.toFixed(1).padStart(5)}%  ${'  '.repeat(depth)}${node.name}`);
    for (const c of [...node.children.values()].sort((a, b) => b.total - a.total))
      walk(c, depth + 1);
  };
  walk(root, 0);
  return lines.join('\n');
}

module.exports = { summarise, flame, folded };

if (require.main === module) {
  const args = process.argv.slice(2);
  const mode = args[0] === '--flame' || args[0] === '--folded' ? args.shift() : null;
  const [target, n] = args;
  if (!target) {
    process.stderr.write(
      'usage: node scripts/bench/drain-profile.js [--flame | --folded] <file.cpuprofile | dir> [top | min%]\n',
    );
    process.exit(2);
  }
  const file = newestProfile(target);
  const text =
    mode === '--flame'
      ? flame(file, Number(n) || 2)
      : mode === '--folded'
        ? folded(file)
        : summarise(file, Number(n) || 25);
  process.stdout.write(`${text}\n`);
}
