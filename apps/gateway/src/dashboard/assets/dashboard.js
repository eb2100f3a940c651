// The operator dashboard. Plain browser JavaScript, no framework, no build step: it runs on the
// gateway's public API with the credentials the browser already holds for this origin (HTTP
// basic, resent by the browser on every same-origin fetch and on EventSource).
//
// Data from the API is only ever inserted as text (textContent, attributes): never as markup.
// The page's CSP forbids inline script anyway; this keeps even a bug from becoming an XSS.
'use strict';

(function dashboard() {
  /** Queue counts are not events: the session list is re-read this often. */
  const REFRESH_MS = 5000;
  /** WhatsApp rotates the QR about every 20 s: it is re-fetched this often while shown. */
  const QR_POLL_MS = 4000;
  /** On first connect the stream replays this much history, so recent failures show at once. */
  const REPLAY_MS = 5 * 60 * 1000;
  /** A stream refused outright (401, 503) is opened again after this long. */
  const REOPEN_MS = 5000;
  const MAX_FAILURES = 50;
  const MAX_EVENTS = 40;

  /** id -> {session, row, cells, qr} */
  const sessions = new Map();
  /** Keys of failures already listed (an event replayed on reconnect is listed once). */
  const failureKeys = new Set();
  let lastEventId = null;
  let refreshTimer = null;

  const $ = (id) => document.getElementById(id);

  // ---- DOM helpers: text only -------------------------------------------------------------

  /** An element with attributes and children; strings become text nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'className') node.className = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function setText(node, text) {
    const value = text === undefined || text === null ? '' : String(text);
    if (node.textContent !== value) node.textContent = value;
  }

  function ago(iso) {
    if (!iso) return '';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return `${s}s ago`;
    if (s < 3600) return `${Math.floor(s / 60)}m ago`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
    return `${Math.floor(s / 86400)}d ago`;
  }

  function clock(iso) {
    const d = iso ? new Date(iso) : new Date();
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString();
  }

  let noticeTimer = null;
  function notice(text, kind) {
    const box = $('notice');
    setText(box, text);
    box.dataset.kind = kind || 'info';
    box.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (box.hidden = true), kind === 'error' ? 15000 : 6000);
  }

  // ---- the API ------------------------------------------------------------------------------

  /** One API call: {ok, status, body}; never throws (a network error is status 0). */
  async function api(method, path, body) {
    const init = { method, headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    try {
      const res = await fetch(path, init);
      const text = await res.text();
      let json = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        json = null;
      }
      return { ok: res.ok, status: res.status, body: json };
    } catch (err) {
      return { ok: false, status: 0, body: { error: { code: 'NETWORK', message: String(err) } } };
    }
  }

  function errorText(res) {
    if (res.status === 401) return 'Not authorised: reload the page to sign in again';
    const e = res.body && res.body.error;
    return e ? `${e.message} (${e.code})` : `HTTP ${res.status}`;
  }

  const sessionPath = (id) => `/api/sessions/${encodeURIComponent(id)}`;

  // ---- sessions -----------------------------------------------------------------------------

  async function refreshSessions() {
    const res = await api('GET', '/api/sessions');
    if (!res.ok) {
      if (res.status === 401) notice(errorText(res), 'error');
      return;
    }
    const seen = new Set();
    for (const s of res.body.sessions) {
      seen.add(s.id);
      upsertSession(s);
      if (s.lastError) {
        addFailure(`session:${s.id}:${s.lastError.at}`, s.lastError.at, s.id, null, s.lastError);
      }
    }
    for (const id of [...sessions.keys()]) if (!seen.has(id)) removeSession(id);
    renderCounts();
  }

  /** Several triggers in a burst (events of unknown sessions) make one refresh. */
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      void refreshSessions();
    }, 300);
  }

  /** Milliseconds since the epoch of an ISO time, 0 when absent. */
  const timeOf = (iso) => (iso ? Date.parse(iso) || 0 : 0);

  function upsertSession(s) {
    let entry = sessions.get(s.id);
    if (!entry) {
      entry = createRow(s.id);
      sessions.set(s.id, entry);
      insertSorted(entry);
    }
    // A list read before the latest event can arrive after it: the event's news stands unless
    // the list is newer. A session no worker owns is shown as the list says (its worker died:
    // no event tells that).
    const known = entry.session;
    const listAt = timeOf(s.updatedAt);
    if (known && s.worker !== null && listAt < entry.statusAt) {
      s.status = known.status;
      s.lastError = known.lastError;
      s.worker = known.worker;
      s.queue = { ...s.queue, paused: known.status !== 'ready' };
    } else {
      entry.statusAt = listAt;
    }
    entry.session = s;
    renderRow(entry);
    syncQr(entry);
  }

  function insertSorted(entry) {
    const body = $('session-rows');
    const after = [...body.children].find((row) => row.dataset.session > entry.id);
    body.insertBefore(entry.row, after || null);
  }

  function removeSession(id) {
    const entry = sessions.get(id);
    if (!entry) return;
    entry.row.remove();
    dropQr(entry);
    sessions.delete(id);
  }

  function renderCounts() {
    setText($('session-count'), `(${sessions.size})`);
    $('no-sessions').hidden = sessions.size > 0;
  }

  function createRow(id) {
    const cells = {
      id: el('td', { className: 'id' }),
      status: el('td'),
      phone: el('td', { className: 'num' }),
      worker: el('td', { className: 'worker' }),
      health: el('td'),
      memory: el('td', { className: 'num' }),
      queue: el('td', { className: 'num' }),
      error: el('td', { className: 'error' }),
      actions: el('td', { className: 'actions' }),
    };
    const row = el('tr', { 'data-session': id }, ...Object.values(cells));
    const entry = { id, row, cells, session: null, qr: null, statusAt: 0 };

    cells.badge = el('span', { className: 'badge' });
    cells.paused = el('span', { className: 'paused' });
    cells.status.append(cells.badge, el('br'), cells.paused);
    cells.healthy = el('span');
    cells.checked = el('small');
    cells.health.append(cells.healthy, cells.checked);
    cells.name = el('span');
    cells.driver = el('small');
    cells.id.append(cells.name, cells.driver);
    setText(cells.name, id);

    const recover = el('button', { type: 'button', 'data-action': 'recover' }, 'Recover');
    recover.addEventListener('click', () => act(entry, recover, 'recover'));
    const stop = confirmButton('Delete', 'delete', () => act(entry, stop, 'delete'));
    stop.title = 'Stops the session and deletes it; its unsent messages are cancelled';
    const logout = confirmButton('Log out', 'logout', () => act(entry, logout, 'logout'));
    logout.title = 'Also unlinks the device from the WhatsApp account, then deletes the session';
    cells.actions.append(recover, stop, logout);
    return entry;
  }

  /** A destructive button: the first click arms it, a second within 4 s does it. */
  function confirmButton(label, action, run) {
    const button = el(
      'button',
      { type: 'button', className: 'danger', 'data-action': action },
      label,
    );
    let armed = null;
    button.addEventListener('click', () => {
      if (armed) {
        clearTimeout(armed);
        armed = null;
        button.classList.remove('confirming');
        setText(button, label);
        run();
        return;
      }
      button.classList.add('confirming');
      setText(button, `${label}?`);
      armed = setTimeout(() => {
        armed = null;
        button.classList.remove('confirming');
        setText(button, label);
      }, 4000);
    });
    return button;
  }

  async function act(entry, button, action) {
    button.disabled = true;
    const path = sessionPath(entry.id);
    const res =
      action === 'recover'
        ? await api('POST', `${path}/recover`)
        : await api('DELETE', action === 'logout' ? `${path}?logout=true` : path);
    button.disabled = false;
    if (!res.ok) return notice(`${entry.id}: ${errorText(res)}`, 'error');
    if (action === 'recover') notice(`${entry.id}: recovery requested`);
    else {
      const cancelled = res.body && res.body.cancelledMessages;
      const unlinked = res.body && res.body.loggedOut === false && res.body.reason;
      notice(
        `${entry.id}: deleted` +
          (cancelled ? `, ${cancelled} unsent message(s) cancelled` : '') +
          (unlinked ? `; not logged out: ${unlinked.message}` : ''),
        unlinked ? 'error' : 'info',
      );
    }
    await refreshSessions();
  }

  function renderRow(entry) {
    const s = entry.session;
    const c = entry.cells;
    setText(c.driver, s.driver);
    setText(c.badge, s.status);
    c.badge.dataset.status = s.status;
    const q = s.queue || {};
    setText(c.paused, q.paused ? 'queue paused' : '');
    setText(c.phone, s.phone ? `+${s.phone}` : '—');
    setText(c.worker, s.worker || 'none');
    const h = s.health || {};
    setText(c.healthy, h.healthy ? 'healthy' : 'unhealthy');
    c.healthy.classList.toggle('unhealthy', !h.healthy);
    const recoveries = h.recoveries || 0;
    setText(
      c.checked,
      (h.lastCheckAt ? `checked ${ago(h.lastCheckAt)}, ` : '') +
        `${recoveries} ${recoveries === 1 ? 'recovery' : 'recoveries'}`,
    );
    setText(c.memory, typeof s.memoryMb === 'number' && s.memoryMb > 0 ? `${s.memoryMb} MB` : '—');
    setText(
      c.queue,
      [q.waiting, q.active, q.delayed, q.failed, q.completed].map((n) => n || 0).join(' / '),
    );
    const e = s.lastError;
    setText(c.error, e ? `${e.code}: ${e.message} (${ago(e.at)})` : '');
    entry.row.dataset.status = s.status;
  }

  // ---- linking: QR code and pairing code ----------------------------------------------------

  /** Shows the linking card while the session is in `qr`, removes it otherwise. */
  function syncQr(entry) {
    if (entry.session.status === 'qr') {
      if (!entry.qr) {
        entry.qr = createQrCard(entry.id);
        $('linking').append(entry.qr.card);
      }
      if (!entry.qr.loadedAt || Date.now() - entry.qr.loadedAt > QR_POLL_MS) void loadQr(entry);
    } else {
      dropQr(entry);
    }
  }

  function dropQr(entry) {
    if (!entry.qr) return;
    entry.qr.card.remove();
    if (entry.qr.url) URL.revokeObjectURL(entry.qr.url);
    entry.qr = null;
  }

  function createQrCard(id) {
    const img = el('img', {
      alt: `QR code to link session ${id}: scan it in WhatsApp, Linked devices`,
      'data-qr': id,
    });
    const phone = el('input', {
      name: 'phone',
      required: true,
      placeholder: '+1 555 123 4567',
      size: 16,
      inputmode: 'tel',
    });
    const code = el('div', { className: 'pairing-code', 'data-pairing-code': id });
    const form = el(
      'form',
      { className: 'inline-form', autocomplete: 'off' },
      el('label', {}, 'phone ', phone),
      el('button', { type: 'submit' }, 'Get pairing code'),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void pairingCode(id, phone.value, code);
    });
    const card = el(
      'div',
      { className: 'qr-card', 'data-linking': id },
      el('h3', {}, `Link ${id}`),
      img,
      el(
        'p',
        {},
        'WhatsApp › Settings › Linked devices › Link a device. The code changes about every 20 s.',
      ),
      el('p', {}, 'Or link with a phone number:'),
      form,
      code,
    );
    return { card, img, url: null, loadedAt: 0, loading: false };
  }

  async function loadQr(entry) {
    const qr = entry.qr;
    if (!qr || qr.loading) return;
    qr.loading = true;
    qr.loadedAt = Date.now();
    try {
      const res = await fetch(`${sessionPath(entry.id)}/qr`, {
        headers: { Accept: 'image/png' },
        cache: 'no-store',
      });
      if (!res.ok) {
        // 409: the session left `qr` since the last news; the list says where it is now.
        refreshSoon();
        return;
      }
      const url = URL.createObjectURL(await res.blob());
      if (entry.qr !== qr) return URL.revokeObjectURL(url);
      const old = qr.url;
      qr.url = url;
      qr.img.src = url;
      if (old) URL.revokeObjectURL(old);
    } catch {
      // A network blip: the next poll tries again.
    } finally {
      qr.loading = false;
    }
  }

  function pollQrs() {
    for (const entry of sessions.values()) if (entry.qr) void loadQr(entry);
  }

  async function pairingCode(id, phone, out) {
    setText(out, '…');
    const res = await api('POST', `${sessionPath(id)}/pairing-code`, { phone });
    if (!res.ok) {
      setText(out, '');
      return notice(`${id}: ${errorText(res)}`, 'error');
    }
    setText(out, res.body.code);
  }

  // ---- failures and the event feed ----------------------------------------------------------

  function addFailure(key, at, session, messageId, error, to) {
    if (failureKeys.has(key)) return;
    failureKeys.add(key);
    const what = messageId ? `message ${messageId}${to ? ` to ${to}` : ''}` : 'session';
    const item = el(
      'li',
      { 'data-failure': key },
      el('time', {}, clock(at)),
      el('strong', {}, session),
      ` ${what}: `,
      el('span', { className: 'code' }, error.code),
      ` ${error.message || ''}`,
    );
    item.dataset.at = at || new Date().toISOString();
    // Newest first, whatever order replay and live news arrive in.
    const list = $('failure-list');
    const before = [...list.children].find((li) => li.dataset.at < item.dataset.at);
    list.insertBefore(item, before || null);
    while (list.children.length > MAX_FAILURES) list.lastElementChild.remove();
    $('no-failures').hidden = true;
  }

  function addEvent(ev) {
    const d = ev.data || {};
    const summary =
      ev.type === 'session.status'
        ? `${d.previous || '?'} → ${d.status}`
        : `${d.messageId} ${d.previous || 'new'} → ${d.status}`;
    const list = $('event-list');
    list.prepend(
      el(
        'li',
        { 'data-type': ev.type, 'data-session': ev.session },
        el('time', {}, clock(ev.timestamp)),
        el('strong', {}, ev.session),
        ` ${ev.type} `,
        summary,
      ),
    );
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  }

  function onSessionStatus(ev) {
    const d = ev.data || {};
    if (d.lastError && d.status !== 'ready') {
      addFailure(
        `session:${ev.session}:${d.lastError.at}`,
        d.lastError.at,
        ev.session,
        null,
        d.lastError,
      );
    }
    const entry = sessions.get(ev.session);
    if (!entry || !entry.session) return refreshSoon();
    // Replayed history (or a late duplicate) older than what the list said: not the news.
    const at = timeOf(ev.timestamp);
    if (at < entry.statusAt) return;
    entry.statusAt = at;
    const s = entry.session;
    s.status = d.status;
    s.lastError = d.lastError;
    s.worker = d.worker;
    // The queue is paused exactly while the session is not ready (the contract).
    s.queue = { ...(s.queue || {}), paused: d.status !== 'ready' };
    // A new status means a new QR (or none): fetch it now, not at the next poll.
    if (entry.qr) entry.qr.loadedAt = 0;
    renderRow(entry);
    syncQr(entry);
    if (d.status === 'stopped') refreshSoon();
  }

  function onMessageStatus(ev) {
    const d = ev.data || {};
    if (d.status === 'failed') {
      addFailure(
        `message:${d.messageId}`,
        ev.timestamp,
        ev.session,
        d.messageId,
        d.error || { code: 'FAILED', message: '' },
        d.to,
      );
    }
  }

  // ---- the live stream ----------------------------------------------------------------------

  function setLive(state) {
    const badge = $('live');
    badge.dataset.state = state;
    setText(badge, state === 'live' ? 'live' : state === 'reconnecting' ? 'reconnecting…' : state);
  }

  function openStream() {
    const params = new URLSearchParams({ types: 'session.status,message.status' });
    // EventSource resends Last-Event-ID itself on its own reconnects; a stream opened anew
    // (after a refusal) says where it stopped, and the first one asks for recent history.
    params.set('lastEventId', lastEventId || `${Date.now() - REPLAY_MS}-0`);
    const source = new EventSource(`/api/events?${params.toString()}`);
    source.addEventListener('open', () => {
      setLive('live');
      void refreshSessions();
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (401, 503…): EventSource gives up on a non-200 answer; open a new one.
        setLive('reconnecting');
        setTimeout(openStream, REOPEN_MS);
      } else {
        setLive('reconnecting');
      }
    });
    const handle = (fn) => (msg) => {
      if (msg.lastEventId) lastEventId = msg.lastEventId;
      let ev;
      try {
        ev = JSON.parse(msg.data);
      } catch {
        return;
      }
      fn(ev);
      addEvent(ev);
    };
    source.addEventListener('session.status', handle(onSessionStatus));
    source.addEventListener('message.status', handle(onMessageStatus));
    // The stream no longer holds what we asked for: re-read the state instead.
    source.addEventListener('reset', () => refreshSoon());
  }

  // ---- forms --------------------------------------------------------------------------------

  function wireForms() {
    $('create-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const form = ev.currentTarget;
      const id = form.elements.id.value.trim();
      const driver = form.elements.driver.value;
      const res = await api('POST', '/api/sessions', driver ? { id, driver } : { id });
      if (!res.ok) return notice(`Create ${id}: ${errorText(res)}`, 'error');
      form.reset();
      notice(`Session ${id} created`);
      upsertSession(res.body);
      renderCounts();
    });

    $('search-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const id = ev.currentTarget.elements.id.value.trim();
      const out = $('search-result');
      out.replaceChildren();
      out.hidden = false;
      const res = await api('GET', `/api/messages/${encodeURIComponent(id)}`);
      if (!res.ok) {
        out.append(el('dt', {}, 'not found'), el('dd', {}, errorText(res)));
        return;
      }
      const m = res.body;
      const rows = [
        ['id', m.id],
        ['session', m.session],
        ['to', m.to],
        ['status', m.status],
        ['attempts', m.attempts],
        ['WhatsApp id', m.waMessageId || '—'],
        ['error', m.error ? `${m.error.code}: ${m.error.message}` : '—'],
        ['created', m.createdAt ? `${m.createdAt} (${ago(m.createdAt)})` : '—'],
        ['sent', m.sentAt ? `${m.sentAt} (${ago(m.sentAt)})` : '—'],
      ];
      for (const [name, value] of rows) out.append(el('dt', {}, name), el('dd', {}, value));
    });
  }

  function start() {
    wireForms();
    renderCounts();
    void refreshSessions();
    openStream();
    setInterval(() => void refreshSessions(), REFRESH_MS);
    setInterval(pollQrs, QR_POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
