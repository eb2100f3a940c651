'use strict';
/*
 * A memory cgroup for one benchmark process: the limit Docker's `--memory`, Compose's
 * `mem_limit` or a Kubernetes memory limit puts on a container. Node reads that limit when it
 * starts (process.constrainedMemory()) and V8 sizes its heap from it, young generation included,
 * so a worker on a host with plenty of memory keeps a larger heap than the same worker in a small
 * container: the host figure alone says little about the RSS a deployment sees.
 *
 * Under cgroup v1 the cgroup is made under the one this process runs in (not at the top of the
 * hierarchy), so the measured process stays inside whatever limit and accounting the benchmark
 * itself is under. Under v2 a cgroup holding processes cannot hand the memory controller to
 * children (only the root can), so it is made beside this process's cgroup, under its parent,
 * which must have memory enabled for its children (untested: the machines this ran on had v1).
 * That needs root and a writable cgroup filesystem; otherwise `createMemoryCgroup` throws a
 * CgroupUnavailable saying why, and the caller reports the phase as skipped. Anything else (a
 * path that should exist and does not, say) is thrown as it is: a bug, not a skip.
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = '/sys/fs/cgroup';
/** A limit under this is a typo (a worker with 5 sessions takes 135 MB here): refused, not measured. */
const MIN_LIMIT_BYTES = 64 * 1024 ** 2;
const NAME_PREFIX = 'wa-bench-';

class CgroupUnavailable extends Error {}

const UNITS = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * A size as Docker writes it ("1g", "512m", "3100m", "1GiB", "1gb", a byte count; binary units)
 * → bytes; null for "0" (the phase is off). Anything else, or a limit under 64 MiB, throws.
 */
function parseBytes(spec) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?|b)?\s*$/i.exec(String(spec));
  if (!m) throw new Error(`not a size: "${spec}" (expected e.g. 1g, 512m or a byte count)`);
  const bytes = Math.round(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]);
  if (Number(m[1]) === 0) return null;
  if (bytes < MIN_LIMIT_BYTES) throw new Error(`"${spec}" is under 64 MiB: too small to measure`);
  if (!Number.isSafeInteger(bytes)) throw new Error(`"${spec}" is too large a limit`);
  return bytes;
}

/** This process's own cgroup path in a hierarchy: the v2 line (`0::/…`) or v1's `memory` line. */
function ownCgroup(v2) {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const line = lines.find((l) =>
    v2 ? l.startsWith('0::') : l.split(':')[1]?.split(',').includes('memory'),
  );
  if (!line) throw new CgroupUnavailable('this process is in no memory cgroup hierarchy');
  return line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
}

/** Where a new memory cgroup goes on this machine, and the file holding its limit. */
function parentCgroup() {
  if (fs.existsSync(path.join(ROOT, 'cgroup.controllers'))) {
    // cgroup v2 (unified): beside this process's cgroup (see the header), in a parent that
    // enables memory for its children.
    const own = ownCgroup(true);
    const dir = own === '/' ? ROOT : path.dirname(path.join(ROOT, own));
    const enabled = fs.readFileSync(path.join(dir, 'cgroup.subtree_control'), 'utf8');
    if (!/\bmemory\b/.test(enabled))
      throw new CgroupUnavailable(`cgroup v2: memory is not enabled for the children of ${dir}`);
    return { dir, limitFile: 'memory.max' };
  }
  const v1 = path.join(ROOT, 'memory');
  if (fs.existsSync(path.join(v1, 'memory.limit_in_bytes'))) {
    // In a container without a cgroup namespace, /proc/self/cgroup names the container's cgroup
    // on the host, while the container sees that cgroup mounted at the top.
    const own = path.join(v1, ownCgroup(false));
    return { dir: fs.existsSync(own) ? own : v1, limitFile: 'memory.limit_in_bytes' };
  }
  throw new CgroupUnavailable('no cgroup memory controller mounted');
}

/** The errors that mean "not allowed here", as opposed to a bug. */
const REFUSED = new Set(['EACCES', 'EPERM', 'EROFS']);

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};

/** Cgroups a benchmark killed before its cleanup ran (SIGINT, SIGKILL) left behind. */
function removeStale(dir) {
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(
      name.startsWith(NAME_PREFIX) && name.slice(NAME_PREFIX.length).split('-')[0],
    );
    if (!pid || alive(pid)) continue;
    try {
      fs.rmdirSync(path.join(dir, name));
    } catch {
      // Still holds a process (or is not ours to remove): left alone.
    }
  }
}

/**
 * A new cgroup limited to `limitBytes`, under this process's own. `procsFile` is where a process
 * writes its pid to join it (see `joinAndExec`); `contains(pid)` checks that a process is in it;
 * `remove()` deletes it once its processes are gone.
 */
function createMemoryCgroup(limitBytes) {
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new CgroupUnavailable('not running as root');
  const { dir, limitFile } = parentCgroup();
  const name = `${NAME_PREFIX}${process.pid}-${Date.now()}`;
  const cgroup = path.join(dir, name);
  try {
    removeStale(dir);
    fs.mkdirSync(cgroup);
  } catch (err) {
    if (!REFUSED.has(err.code)) throw err;
    throw new CgroupUnavailable(`cannot create a cgroup in ${dir}: ${err.code}`);
  }
  try {
    fs.writeFileSync(path.join(cgroup, limitFile), String(limitBytes));
  } catch (err) {
    try {
      fs.rmdirSync(cgroup);
    } catch {
      // Nothing in it yet: only a vanished cgroup filesystem gets here.
    }
    if (!REFUSED.has(err.code)) throw err;
    throw new CgroupUnavailable(`cannot set ${limitFile} in ${cgroup}: ${err.code}`);
  }
  return {
    path: cgroup,
    limitBytes,
    procsFile: path.join(cgroup, 'cgroup.procs'),
    contains(pid) {
      try {
        return fs
          .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
          .split('\n')
          .some((line) => line.endsWith(`/${name}`));
      } catch {
        return false;
      }
    },
    /** Resolves false (and says where) when the cgroup is still there after ~5 s. */
    async remove() {
      for (let i = 0; i < 50; i++) {
        try {
          fs.rmdirSync(cgroup);
          return true;
        } catch (err) {
          if (err.code === 'ENOENT') return true;
          // A process that is exiting still counts as in the cgroup for a moment.
          if (err.code !== 'EBUSY') break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      process.stderr.write(`memory cgroup ${cgroup} could not be removed\n`);
      return false;
    },
  };
}

/**
 * spawn() arguments that start `command args…` inside `cgroup`: a shell writes its own pid to
 * the cgroup, then execs the command, which keeps that pid; `&&` means the command never starts
 * outside the cgroup, so Node reads the limit at start-up.
 */
function joinAndExec(cgroup, command, args) {
  return ['/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', cgroup.procsFile, command, ...args]];
}

module.exports = { CgroupUnavailable, createMemoryCgroup, joinAndExec, parseBytes };
