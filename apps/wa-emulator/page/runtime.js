// The emulator's runtime: what WhatsApp Web's own bundle provides and every page module is written
// against. whatsapp-web.js reaches WhatsApp Web only through `window.require(<module name>)`
// (Client.js, util/Injected/Utils.js, util/Injected/AuthStore/AuthStore.js), so the emulator is a
// set of named modules (`__emu.define`), built on small Backbone-like models and collections, plus
// the link to the emulator server (RPCs page -> server, pushes server -> page).
'use strict';
(function () {
  const modules = new Map();
  const standIns = new Map();

  /**
   * A module the emulator does not implement, at any depth. Reading a property gives another
   * stand-in (`M.Foo.bar`), and calling or constructing one throws `not emulated: <path>()`
   * (`not emulated: M.Foo.bar`, `not emulated: M()`), so an unexpected path fails loudly and
   * names what is missing. Writes are kept: whatsapp-web.js assigns to some modules (e.g.
   * WAWebSyncGatingUtils.isPlaceholderMessageResendEnabled, WAWebMiscBrowserUtils.info).
   */
  function standIn(path) {
    if (standIns.has(path)) return standIns.get(path);
    const written = new Map();
    // A function target, so the proxy can be called and constructed (apply/construct traps).
    const target = function notEmulated() {};
    const proxy = new Proxy(target, {
      get(_target, prop) {
        if (written.has(prop)) return written.get(prop);
        // Not a thenable, not convertible: `await standIn` and string coercion must not throw.
        if (typeof prop === 'symbol' || prop === 'then' || prop === 'toJSON') return undefined;
        if (prop === 'toString') return () => `[not emulated: ${path}]`;
        if (prop === 'valueOf') return undefined;
        return standIn(`${path}.${prop}`);
      },
      set(_target, prop, value) {
        written.set(prop, value);
        return true;
      },
      has(target, prop) {
        return written.has(prop) || Reflect.has(target, prop);
      },
      apply() {
        // The module itself called (`require('M')(...)`) reads `M()`; a member, `M.Foo.bar`.
        throw new Error(`not emulated: ${path.includes('.') ? path : `${path}()`}`);
      },
      construct() {
        throw new Error(`not emulated: new ${path}()`);
      },
    });
    standIns.set(path, proxy);
    return proxy;
  }

  function define(name, exports) {
    modules.set(name, exports);
    return exports;
  }

  window.require = function require(name) {
    return modules.has(name) ? modules.get(name) : standIn(name);
  };

  /** Backbone-style events: `on('a b', fn, ctx)`, `off`, `once`, `trigger`. */
  class EventEmitter {
    constructor() {
      Object.defineProperty(this, '_events', { value: new Map(), writable: true });
      Object.defineProperty(this, '_listenWaiters', { value: new Map(), writable: true });
    }

    on(events, fn, ctx) {
      for (const event of String(events).split(/\s+/).filter(Boolean)) {
        if (!this._events.has(event)) this._events.set(event, []);
        this._events.get(event).push({ fn, ctx });
        const waiters = this._listenWaiters.get(event);
        if (waiters) {
          this._listenWaiters.delete(event);
          for (const waiter of waiters) setTimeout(waiter, 0);
        }
      }
      return this;
    }

    off(events, fn) {
      const names = events ? String(events).split(/\s+/).filter(Boolean) : [...this._events.keys()];
      for (const event of names) {
        if (!fn) this._events.delete(event);
        else
          this._events.set(
            event,
            (this._events.get(event) || []).filter((l) => l.fn !== fn && l.fn._once !== fn),
          );
      }
      return this;
    }

    once(events, fn, ctx) {
      const self = this;
      const wrapper = function (...args) {
        self.off(events, wrapper);
        return fn.apply(ctx || self, args);
      };
      wrapper._once = fn;
      return this.on(events, wrapper, ctx);
    }

    trigger(event, ...args) {
      for (const { fn, ctx } of [...(this._events.get(event) || [])]) {
        try {
          fn.apply(ctx || this, args);
        } catch (err) {
          // One failing listener must not stop the others (Backbone keeps going too); it shows in
          // the page console, which is where a whatsapp-web.js listener error belongs.
          console.error(`listener for ${event} failed`, err);
        }
      }
      return this;
    }

    /**
     * Calls `fn` (on a later task) once `event` has a listener. The emulator's "sync" is instant;
     * real WhatsApp Web takes seconds, so whatsapp-web.js always listens in time. Waiting for
     * the listener keeps the emulator from racing ahead of it (see boot.js, hasSynced).
     */
    whenListened(event, fn) {
      if ((this._events.get(event) || []).length) {
        setTimeout(fn, 0);
        return;
      }
      if (!this._listenWaiters.has(event)) this._listenWaiters.set(event, []);
      this._listenWaiters.get(event).push(fn);
    }
  }

  /** A model: attributes are own properties (WhatsApp Web's models read like plain objects). */
  class Model extends EventEmitter {
    constructor(attrs) {
      super();
      Object.defineProperty(this, '_collections', { value: new Set(), writable: true });
      Object.assign(this, attrs || {});
    }

    get(key) {
      return this[key];
    }

    /** set(key, value) or set({key: value}): triggers `change:<key>` (model, value, prev), `change`. */
    set(keyOrAttrs, value) {
      const attrs = typeof keyOrAttrs === 'object' ? keyOrAttrs : { [keyOrAttrs]: value };
      const changed = [];
      for (const [key, val] of Object.entries(attrs)) {
        const prev = this[key];
        if (prev === val) continue;
        this[key] = val;
        changed.push([key, val, prev]);
      }
      for (const [key, val, prev] of changed) this.trigger(`change:${key}`, this, val, prev);
      if (changed.length) this.trigger('change', this);
      return this;
    }

    /** A plain copy of the attributes (what whatsapp-web.js's serializers start from). */
    serialize() {
      return { ...this };
    }

    /** WhatsApp Web's models expose their raw self as `unsafe()` (Utils.js sendMessage, quoting). */
    unsafe() {
      return this;
    }

    /** Events bubble to the collections holding the model, like Backbone's. */
    trigger(event, ...args) {
      super.trigger(event, ...args);
      for (const collection of this._collections) collection.trigger(event, ...args);
      return this;
    }
  }

  function keyOf(idLike) {
    if (idLike == null) return undefined;
    if (typeof idLike === 'string') return idLike;
    if (idLike.id !== undefined && idLike instanceof Model) return keyOf(idLike.id);
    if (typeof idLike._serialized === 'string') return idLike._serialized;
    return String(idLike);
  }

  /** Models by id (`id._serialized` or `id`), Backbone-like. */
  class Collection extends EventEmitter {
    constructor(models, options) {
      super();
      Object.defineProperty(this, '_byId', { value: new Map(), writable: true });
      this.modelClass = (options && options.modelClass) || Model;
      if (models) this.add(models);
    }

    get models() {
      return [...this._byId.values()];
    }

    get length() {
      return this._byId.size;
    }

    get(idLike) {
      return this._byId.get(keyOf(idLike));
    }

    getModelsArray() {
      return this.models;
    }

    add(modelsOrAttrs, options) {
      const single = !Array.isArray(modelsOrAttrs);
      const added = [];
      for (const item of single ? [modelsOrAttrs] : modelsOrAttrs) {
        const model = item instanceof Model ? item : new this.modelClass(item);
        const key = keyOf(model.id);
        const existing = this._byId.get(key);
        if (existing) {
          added.push(existing);
          continue;
        }
        this._byId.set(key, model);
        model._collections.add(this);
        added.push(model);
        if (!(options && options.silent)) this.trigger('add', model, this);
      }
      return single ? added[0] : added;
    }

    remove(modelsOrIds) {
      const list = Array.isArray(modelsOrIds) ? modelsOrIds : [modelsOrIds];
      for (const item of list) {
        const model = this.get(item instanceof Model ? item.id : item);
        if (!model) continue;
        this._byId.delete(keyOf(model.id));
        model._collections.delete(this);
        this.trigger('remove', model, this);
      }
    }

    filter(fn) {
      return this.models.filter(fn);
    }

    forEach(fn) {
      this.models.forEach(fn);
    }

    /**
     * WhatsApp Web's `find(id)` is asynchronous: the model if known, else fetched (here:
     * `fetchModel`, which a collection overrides; the default creates it). With a predicate it is
     * the array find.
     */
    find(idOrPredicate) {
      if (typeof idOrPredicate === 'function') return this.models.find(idOrPredicate);
      const known = this.get(idOrPredicate);
      if (known) return Promise.resolve(known);
      return Promise.resolve(this.fetchModel(idOrPredicate));
    }

    fetchModel(idLike) {
      return this.add({ id: idLike });
    }

    serialize() {
      return this.models.map((m) => m.serialize());
    }
  }

  // --- The link to the emulator server -------------------------------------------------------

  const pushHandlers = new Map();
  let deviceId = localStorage.getItem('emu.deviceId');
  if (!deviceId) {
    deviceId = crypto.randomUUID();
    localStorage.setItem('emu.deviceId', deviceId);
  }

  /**
   * Page -> server call. Resolves with the server's result, rejects with its error (message and
   * `code`). (A send that never settles is the page's own doing: messages.js, fault `hang`.)
   */
  async function rpc(method, params) {
    const res = await fetch('/emu/rpc', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: window.__emu.deviceId, method, params: params || {} }),
    });
    const reply = await res.json();
    if (reply.error)
      throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    return reply.result;
  }

  function onPush(type, fn) {
    if (!pushHandlers.has(type)) pushHandlers.set(type, []);
    pushHandlers.get(type).push(fn);
  }

  /** Opens the SSE link; `onFirstPush` runs after the first push was handled (boot.js). */
  function openLink(onFirstPush) {
    let first = true;
    const source = new EventSource(`/emu/link?device=${encodeURIComponent(window.__emu.deviceId)}`);
    source.onmessage = (event) => {
      const push = JSON.parse(event.data);
      for (const fn of pushHandlers.get(push.type) || []) {
        try {
          fn(push);
        } catch (err) {
          console.error(`push ${push.type} failed`, err);
        }
      }
      if (first) {
        first = false;
        onFirstPush();
      }
    };
    return source;
  }

  window.__emu = {
    define,
    standIn,
    EventEmitter,
    Model,
    Collection,
    rpc,
    onPush,
    openLink,
    deviceId,
    me: null,
    /** Hooks other page files fill in (media.js: the media part of a send). */
    hooks: {},
  };
})();
