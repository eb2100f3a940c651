'use strict';
// The gateway's API as the monitor uses it: three reads and the event stream, with errors a
// person can act on. The API key goes in a header and nowhere else (never printed).

class MonitorError extends Error {}

class GatewayApi {
  constructor(baseUrl, key) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.key = key;
  }

  async get(path) {
    const res = await this.request(path, { accept: 'application/json' });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw this.refusal(res, body);
    return body;
  }

  /** GET /api/sessions, /api/queue-status and /api/health at once. */
  async snapshot() {
    const [sessions, queues, health] = await Promise.all([
      this.get('/api/sessions'),
      this.get('/api/queue-status'),
      this.get('/api/health'),
    ]);
    return {
      sessions: sessions.sessions ?? [],
      queues: queues.sessions ?? {},
      health,
      at: new Date(),
    };
  }

  /**
   * Opens GET /api/events resuming after `after` (a stream position: `<ms>-<seq>`); resolves
   * with the open answer (its body is the stream).
   */
  async events({ after, session, signal }) {
    const query = new URLSearchParams({ types: 'message.status,session.status' });
    if (session) query.set('session', session);
    const headers = { accept: 'text/event-stream' };
    if (after) headers['last-event-id'] = after;
    const res = await this.request(`/api/events?${query}`, headers, signal);
    if (!res.ok) throw this.refusal(res, await res.json().catch(() => null));
    return res;
  }

  async request(path, headers, signal) {
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        headers: { ...headers, 'x-api-key': this.key },
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      const why = err.cause?.code ?? err.cause?.message ?? err.message;
      throw new MonitorError(`cannot reach the gateway at ${this.baseUrl} (${why})`);
    }
  }

  refusal(res, body) {
    if (res.status === 401) {
      return new MonitorError(
        `the gateway at ${this.baseUrl} refused the API key (401): pass --key or set API_KEY`,
      );
    }
    const detail = body?.error ? `${body.error.code}: ${body.error.message}` : res.statusText;
    return Object.assign(new MonitorError(`the gateway answered ${res.status} (${detail})`), {
      status: res.status,
    });
  }
}

module.exports = { GatewayApi, MonitorError };
