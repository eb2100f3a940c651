#!/usr/bin/env node
// `npm run monitor`: a live terminal table of the gateway's sessions, their queues, send rates
// and recent failures, refreshed from the API every 2 s and live from its event stream
// (GET /api/events). The seed's `monitor.sh watch`, done properly. Plain Node, no dependency.
'use strict';
const { parseArgs } = require('node:util');
const { GatewayApi, MonitorError } = require('./lib/monitor/api');
const { MonitorState } = require('./lib/monitor/state');
const { render } = require('./lib/monitor/table');
const { sseFrames } = require('./lib/monitor/sse');

const HELP = `Usage: npm run monitor -- [options]

A live table of the gateway's sessions (status, worker, phone, health, queue counts, paused),
messages sent per minute per session and recent failures. Refreshed from the API every 2 s and
live from its event stream. Ctrl-C stops it.

Options:
  --url <url>       the gateway [GATEWAY_URL or http://127.0.0.1:3000]
  --key <key>       an API key [API_KEY, or the first of API_KEYS]
  --session <id>    show this session only
  --failures <n>    how many recent failures to list [10]
  --once            print the table once and exit (exit 1 if the gateway cannot be reached or
                    refuses the key)
  --help            this text
`;

const REFRESH_MS = 2000;
/** How far back the event stream is read at start: the send rate and recent failures. */
const HISTORY_MS = 10 * 60000;
/** --once: the stream's history is taken as read when it has been quiet this long... */
const ONCE_QUIET_MS = 500;
/** ...or after this long at most. */
const ONCE_MAX_MS = 5000;
/** Between two connections of the event stream (the server's own `retry:` hint). */
const RECONNECT_MS = 3000;

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        url: { type: 'string' },
        key: { type: 'string' },
        session: { type: 'string' },
        failures: { type: 'string' },
        once: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail(`${err.message}\n\n${HELP}`, 2);
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const url = parsed.url || process.env.GATEWAY_URL || 'http://127.0.0.1:3000';
  try {
    new URL(url);
  } catch {
    fail(`--url must be a URL such as http://127.0.0.1:3000 (got "${url}")`, 2);
  }
  const key =
    parsed.key || process.env.API_KEY || (process.env.API_KEYS ?? '').split(',')[0].trim();
  if (!key) fail('no API key: pass --key, or set API_KEY (or API_KEYS)', 2);
  const failures = parsed.failures === undefined ? 10 : Number(parsed.failures);
  if (!Number.isInteger(failures) || failures < 1 || failures > 1000) {
    fail('--failures must be a whole number from 1 to 1000', 2);
  }
  return { url, key, session: parsed.session, failures, once: parsed.once };
}

function fail(message, code = 1) {
  process.stderr.write(`monitor: ${message}\n`);
  process.exit(code);
}

/** The stream position `ms` milliseconds ago: replay from there (positions are `<ms>-<seq>`). */
function positionAgo(ms) {
  return `${Date.now() - ms}-0`;
}

/** Feeds the stream's frames into the state; `onNote` gets each line worth printing. */
async function consume(res, state, onNote, onFrame = () => undefined) {
  for await (const frame of sseFrames(res.body)) {
    onFrame();
    if (frame.event === 'reset') continue; // history trimmed: what follows is the oldest kept
    let event;
    try {
      event = JSON.parse(frame.data);
    } catch {
      continue;
    }
    const note = state.applyEvent(frame.id, event);
    if (note) onNote(note);
  }
}

/** --once: one snapshot, the stream's recent history, one table. */
async function once(api, state, opts) {
  try {
    state.applySnapshot(await api.snapshot());
  } catch (err) {
    fail(err instanceof MonitorError ? err.message : String(err));
  }
  const ac = new AbortController();
  let quiet;
  const wait = () => {
    clearTimeout(quiet);
    quiet = setTimeout(() => ac.abort(), ONCE_QUIET_MS);
  };
  const cap = setTimeout(() => ac.abort(), ONCE_MAX_MS);
  try {
    const res = await api.events({
      after: positionAgo(HISTORY_MS),
      session: opts.session,
      signal: ac.signal,
    });
    state.events = 'read';
    wait();
    await consume(res, state, () => undefined, wait);
  } catch (err) {
    if (!ac.signal.aborted) state.events = `unavailable (${err.message})`;
  } finally {
    clearTimeout(quiet);
    clearTimeout(cap);
  }
  process.stdout.write(`${render(state, { url: api.baseUrl }).join('\n')}\n`);
}

/** The live screen: redrawn in place on a terminal, printed when it changes otherwise. */
class Screen {
  constructor(state, url) {
    this.state = state;
    this.url = url;
    this.tty = !!process.stdout.isTTY;
    this.problem = null;
    this.lastPlain = '';
    this.pending = null;
    if (this.tty) process.stdout.write('\x1b[?25l\x1b[2J'); // hide the cursor, clear once
  }

  lines() {
    const lines = render(this.state, { url: this.url });
    if (this.problem) lines.splice(1, 0, `! ${this.problem}`);
    return lines;
  }

  /** At most one redraw per 200 ms, however many events arrive. */
  soon() {
    if (!this.pending) this.pending = setTimeout(() => this.draw(), 200);
  }

  draw() {
    clearTimeout(this.pending);
    this.pending = null;
    const lines = this.lines();
    if (this.tty) {
      // Cursor home, each line cleared to its end, the rest of the screen cleared: no flicker.
      const width = process.stdout.columns || 200;
      process.stdout.write(
        `\x1b[H${lines.map((l) => `${l.slice(0, width)}\x1b[K`).join('\n')}\n\x1b[J`,
      );
      return;
    }
    // Plain output (a pipe, a file): the table again only when something in it changed.
    const body = lines.slice(1).join('\n');
    if (body === this.lastPlain) return;
    this.lastPlain = body;
    process.stdout.write(`\n${lines.join('\n')}\n`);
  }

  /** An event worth a line: printed as it comes on plain output; on a terminal, the table shows it. */
  note(line) {
    if (this.tty) this.soon();
    else process.stdout.write(`${line}\n`);
  }

  close() {
    if (this.tty) process.stdout.write('\x1b[?25h\n');
  }
}

async function live(api, state, opts) {
  try {
    state.applySnapshot(await api.snapshot());
  } catch (err) {
    fail(err instanceof MonitorError ? err.message : String(err));
  }
  const screen = new Screen(state, api.baseUrl);
  const stop = () => {
    screen.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  screen.draw();

  let refreshing = false;
  setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    api
      .snapshot()
      .then((snap) => {
        state.applySnapshot(snap);
        screen.problem = null;
      })
      .catch((err) => {
        screen.problem = err instanceof MonitorError ? err.message : String(err);
      })
      .finally(() => {
        refreshing = false;
        screen.draw();
      });
  }, REFRESH_MS);

  // The event stream, resumed after the last position seen whenever it drops.
  for (;;) {
    try {
      const res = await api.events({
        after: state.lastPosition ?? positionAgo(HISTORY_MS),
        session: opts.session,
      });
      state.events = 'live';
      screen.soon();
      await consume(res, state, (line) => screen.note(line));
      state.events = 'reconnecting';
    } catch (err) {
      state.events = err.status === 404 ? 'unavailable' : 'reconnecting';
    }
    screen.soon();
    await new Promise((r) => setTimeout(r, RECONNECT_MS));
  }
}

async function main() {
  const opts = options();
  const api = new GatewayApi(opts.url, opts.key);
  const state = new MonitorState({ session: opts.session, failures: opts.failures });
  if (opts.once) await once(api, state, opts);
  else await live(api, state, opts);
}

main().catch((err) => fail(err.stack || String(err)));
