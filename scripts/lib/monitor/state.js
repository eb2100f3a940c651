'use strict';
// What the monitor shows, kept up to date from two sources: the API's snapshot (sessions,
// queue counts, health) every refresh, and the event stream in between (a session's status
// as it changes, each sent message for the send rate, each failure as it happens).

const RATE_WINDOW_MS = 60000;

class MonitorState {
  constructor({ session, failures = 10 } = {}) {
    this.session = session; // only this session, when set
    this.maxFailures = failures;
    this.snapshot = null;
    this.sent = new Map(); // session -> times (ms) of its sends in the rate window
    this.failures = []; // newest first
    this.lastPosition = undefined; // the event stream position to resume after
    this.events = 'connecting';
  }

  applySnapshot(snapshot) {
    this.snapshot = snapshot;
  }

  /**
   * Takes one event of the stream; answers a line for a person when it is worth one (a session
   * changed status, a message failed), else null.
   */
  applyEvent(position, event) {
    if (position) this.lastPosition = position;
    if (!event || (this.session && event.session !== this.session)) return null;
    const at = Date.parse(event.timestamp) || Date.now();
    if (event.type === 'message.status') return this.messageStatus(event, at);
    if (event.type === 'session.status') return this.sessionStatus(event, at);
    return null;
  }

  messageStatus(event, at) {
    const d = event.data ?? {};
    if (d.status === 'sent') {
      const times = this.sent.get(event.session) ?? [];
      times.push(at);
      this.sent.set(event.session, times);
      return null;
    }
    if (d.status !== 'failed') return null;
    this.addFailure({
      at,
      session: event.session,
      what: `message ${d.messageId}`,
      code: d.error?.code ?? 'FAILED',
      reason: d.error?.message ?? '',
    });
    return `${clock(at)} ${event.session}: message ${d.messageId} failed: ${d.error?.code ?? ''} ${d.error?.message ?? ''}`.trim();
  }

  sessionStatus(event, at) {
    const d = event.data ?? {};
    const s = this.snapshot?.sessions.find((x) => x.id === event.session);
    if (s) {
      s.status = d.status;
      if ('worker' in d) s.worker = d.worker;
      if ('lastError' in d) s.lastError = d.lastError;
    }
    if (d.lastError && d.lastError.code && d.status !== 'ready') {
      this.addFailure({
        at: Date.parse(d.lastError.at) || at,
        session: event.session,
        what: `session ${d.status}`,
        code: d.lastError.code,
        reason: d.lastError.message ?? '',
      });
    }
    const why = d.lastError?.code && d.status !== 'ready' ? ` (${d.lastError.code})` : '';
    return `${clock(at)} ${event.session}: session ${d.previous ?? '?'} → ${d.status}${why}`;
  }

  addFailure(f) {
    const key = `${f.session}|${f.what}|${f.code}|${f.at}`;
    if (this.failures.some((x) => x.key === key)) return;
    this.failures.unshift({ ...f, key });
    this.failures.sort((a, b) => b.at - a.at);
    this.failures.length = Math.min(this.failures.length, this.maxFailures);
  }

  /** Messages sent by a session in the last minute (by the events' own times). */
  sendRate(sessionId, now = Date.now()) {
    const times = (this.sent.get(sessionId) ?? []).filter((t) => now - t < RATE_WINDOW_MS);
    this.sent.set(sessionId, times);
    return times.length;
  }

  /** The sessions to show, with their queue counts from /api/queue-status when it has them. */
  rows() {
    if (!this.snapshot) return [];
    return this.snapshot.sessions
      .filter((s) => !this.session || s.id === this.session)
      .map((s) => ({ ...s, queue: { ...(s.queue ?? {}), ...(this.snapshot.queues[s.id] ?? {}) } }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Failures to show: those the stream reported, and each session's latest error from the API
   * (a failure older than the stream's history, or while the stream is down).
   */
  recentFailures() {
    for (const s of this.rows()) {
      if (s.lastError?.code && s.status !== 'ready') {
        this.addFailure({
          at: Date.parse(s.lastError.at) || 0,
          session: s.id,
          what: `session ${s.status}`,
          code: s.lastError.code,
          reason: s.lastError.message ?? '',
        });
      }
    }
    return this.failures;
  }
}

function clock(ms) {
  return new Date(ms).toTimeString().slice(0, 8);
}

module.exports = { MonitorState, clock };
