'use strict';
// The monitor's screen as lines of text: a header, the sessions table, recent failures.
const { clock } = require('./state');

const COLUMNS = [
  ['SESSION', (s) => s.id],
  ['STATUS', (s) => s.status],
  ['WORKER', (s) => s.worker ?? '-'],
  ['PHONE', (s) => s.phone ?? '-'],
  ['HEALTH', (s) => (s.health ? (s.health.healthy ? 'ok' : 'unhealthy') : '-')],
  ['RECOV', (s) => String(s.health?.recoveries ?? 0)],
  ['WAIT', (s) => String(s.queue.waiting ?? 0)],
  ['ACTIVE', (s) => String(s.queue.active ?? 0)],
  ['DELAYED', (s) => String(s.queue.delayed ?? 0)],
  ['FAILED', (s) => String(s.queue.failed ?? 0)],
  ['PAUSED', (s) => (s.queue.paused ? 'yes' : 'no')],
  ['SENT/MIN', (s, state) => String(state.sendRate(s.id))],
];

/** Columns padded to their widest cell, numbers right-aligned. */
function grid(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (/^\d+$/.test(c) && i > 0 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The whole screen for the state, as lines. */
function render(state, { url, now = Date.now() }) {
  const snap = state.snapshot;
  const health = snap?.health;
  const lines = [
    `wa-gateway monitor  ${url}  gateway ${health?.status ?? '?'}  redis ${health?.redis ? 'up' : 'down'}  events ${state.events}  ${clock(now)}`,
    '',
  ];
  const rows = state.rows();
  if (rows.length === 0)
    lines.push(state.session ? `no session "${state.session}"` : 'no sessions');
  else
    lines.push(
      ...grid(
        COLUMNS.map(([h]) => h),
        rows.map((s) => COLUMNS.map(([, cell]) => cell(s, state))),
      ),
    );
  const failures = state.recentFailures();
  lines.push('', `RECENT FAILURES (${failures.length ? `last ${failures.length}` : 'none'})`);
  if (failures.length) {
    lines.push(
      ...grid(
        ['AT', 'SESSION', 'WHAT', 'CODE', 'REASON'],
        failures.map((f) => [
          f.at ? clock(f.at) : '-',
          f.session,
          f.what,
          f.code,
          oneLine(f.reason),
        ]),
      ),
    );
  }
  return lines;
}

function oneLine(text) {
  // Error texts come from outside (WhatsApp, receivers): no escape sequence reaches the terminal.
  // eslint-disable-next-line no-control-regex
  const s = String(text)
    .replace(/\s+/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
  return s.length > 100 ? `${s.slice(0, 99)}…` : s;
}

module.exports = { render };
