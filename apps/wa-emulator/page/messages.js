// Wids, message keys, the Msg/Chat/Contact collections, the text send, acks, incoming messages,
// fetchMessages, queryWidExists and getMessageById: what util/Injected/Utils.js (getChat,
// getChatModel, getContactModel, getMessageModel, sendMessage, sendSeen), Client.js
// (attachEventListeners, getNumberId, getMessageById) and structures/Chat.js (fetchMessages) use.
'use strict';
(function () {
  const { define, EventEmitter, Model, Collection, rpc, onPush } = window.__emu;

  // --- WAWebWidFactory: `<user>@<server>` ids (c.us = phone, lid, g.us = group, broadcast) ---
  class Wid {
    constructor(serialized) {
      const [user, server] = String(serialized).split('@');
      this.server = server || 'c.us';
      this.user = user;
      this._serialized = `${this.user}@${this.server}`;
    }
    isLid() {
      return this.server === 'lid';
    }
    isGroup() {
      return this.server === 'g.us';
    }
    isUser() {
      return this.server === 'c.us' || this.server === 'lid';
    }
    isBroadcast() {
      return this.server === 'broadcast';
    }
    isStatus() {
      return this.user === 'status' && this.server === 'broadcast';
    }
    isNewsletter() {
      return this.server === 'newsletter';
    }
    toString() {
      return this._serialized;
    }
    toJid() {
      return this.server === 'c.us' ? `${this.user}@s.whatsapp.net` : this._serialized;
    }
    equals(other) {
      return !!other && other._serialized === this._serialized;
    }
  }
  const createWid = (idLike) =>
    idLike instanceof Wid
      ? idLike
      : new Wid(typeof idLike === 'string' ? idLike : idLike._serialized);
  define('WAWebWidFactory', {
    createWid,
    createWidFromWidLike: createWid,
    asUserWidOrThrow: (wid) => {
      const w = createWid(wid);
      if (!w.isUser()) throw new Error(`not a user wid: ${w._serialized}`);
      return w;
    },
    toUserWid: createWid,
  });

  // --- WAWebMsgKey: `new MsgKey({from, to, id, participant, selfDir})`, `MsgKey.newId()` ---
  class MsgKey {
    constructor({ fromMe, remote, from, to, id, participant, selfDir }) {
      this.fromMe = fromMe !== undefined ? !!fromMe : selfDir === 'out';
      this.remote = createWid(remote || (this.fromMe ? to : from));
      this.id = id;
      if (participant) this.participant = createWid(participant);
      this._serialized =
        `${this.fromMe}_${this.remote._serialized}_${this.id}` +
        (this.participant ? `_${this.participant._serialized}` : '');
    }
    toString() {
      return this._serialized;
    }
    /** WhatsApp Web's own outgoing ids: 3EB0 + 18 upper-case hex digits. */
    static async newId() {
      const hex = [...crypto.getRandomValues(new Uint8Array(9))]
        .map((b) => b.toString(16).padStart(2, '0'))
        .join('');
      return `3EB0${hex.toUpperCase()}`;
    }
  }
  define('WAWebMsgKey', MsgKey);

  // --- Messages ---------------------------------------------------------------------------
  class Msg extends Model {
    canReply() {
      return true;
    }
    /** Utils.js sendMessage spreads this into a reply (quotedMessageId). */
    msgContextInfo() {
      return {
        quotedMsg: { type: this.type, body: this.body },
        quotedStanzaID: this.id.id,
        quotedParticipant: this.id.fromMe ? this.to : this.from,
        quotedRemoteJid: this.id.remote,
      };
    }
  }

  /** A Msg from the server's record of it ({id: {fromMe, remote, id}, from, to, ...}). */
  function msgFromRecord(record, isNewMsg) {
    const { id, from, to, author, ...rest } = record;
    return new Msg({
      ack: 0,
      isNotification: false,
      ...rest,
      id: new MsgKey(id),
      from: createWid(from),
      to: createWid(to),
      ...(author ? { author: createWid(author) } : {}),
      isNewMsg,
    });
  }

  class MsgCollection extends Collection {
    /** Client.js getMessageById / Utils.js: messages not in memory are fetched by id. */
    async getMessagesById(ids) {
      const records = await rpc('getMessages', { ids });
      const messages = records.map(
        (r) => this.get(r.waMessageId) || this.add(msgFromRecord(r, false)),
      );
      return { messages };
    }
  }
  const MsgStore = new MsgCollection(null, { modelClass: Msg });

  // --- Chats ------------------------------------------------------------------------------
  class Chat extends Model {
    constructor(attrs) {
      super(attrs);
      // Not an attribute: getChatModel serializes the chat, and `msgs` must not go with it.
      Object.defineProperty(this, 'msgs', { value: new Collection(null, { modelClass: Msg }) });
      Object.defineProperty(this, 'historyLoaded', { value: false, writable: true });
    }
  }
  class ChatCollection extends Collection {
    fetchModel(idLike) {
      const id = createWid(idLike);
      return this.add(
        new Chat({
          id,
          formattedTitle: `+${id.user}`,
          t: 0,
          unreadCount: 0,
          archive: false,
          pin: 0,
          isLocked: false,
          isReadOnly: false,
          mute: { expiration: 0 },
          muteExpiration: 0,
        }),
      );
    }
  }
  const ChatStore = new ChatCollection(null, { modelClass: Chat });
  const chatFor = (wid) => ChatStore.get(wid) || ChatStore.fetchModel(wid);

  // --- Contacts ---------------------------------------------------------------------------
  class ContactCollection extends Collection {
    fetchModel(idLike) {
      return this.add({
        id: createWid(idLike),
        isBusiness: false,
        isEnterprise: false,
        isContactBlocked: false,
        type: 'in',
      });
    }
  }
  const ContactStore = new ContactCollection();

  define('WAWebCollections', {
    Msg: MsgStore,
    Chat: ChatStore,
    Contact: ContactStore,
    Blocklist: new Collection(),
    BusinessProfile: new Collection(),
    GroupMetadata: new Collection(),
    WAWebNewsletterCollection: new Collection(),
  });

  // Utils.js getChat: a chat not in the store is created.
  define('WAWebFindChatAction', {
    findOrCreateLatestChat: async (wid) => ({ chat: chatFor(wid), created: true }),
  });
  define('WAWebChatGetters', {
    getIsNewsletter: (chat) => chat.id.isNewsletter(),
    getIsBroadcast: (chat) => chat.id.isBroadcast(),
    getIsGroup: (chat) => chat.id.isGroup(),
  });

  // Utils.js getContactModel.
  const isMe = (contact) =>
    !!window.__emu.me && contact.id._serialized === `${window.__emu.me.phone}@c.us`;
  define('WAWebContactGetters', {
    getIsMe: isMe,
    getIsUser: (c) => c.id.isUser(),
    getIsGroup: (c) => c.id.isGroup(),
    getIsWAContact: (c) => c.id.isUser(),
    getUserid: (c) => c.id.user,
    getVerifiedName: (c) => c.verifiedName,
    getVerifiedLevel: (c) => c.verifiedLevel,
    getStatusMute: () => false,
    getName: (c) => c.name,
    getShortName: (c) => c.shortName,
    getPushname: (c) => c.pushname,
    getIsEnterprise: (c) => !!c.isEnterprise,
  });
  define('WAWebFrontendContactGetters', { getIsMyContact: () => false });
  define('WAWebApiContact', { getAlternateUserWid: () => null });

  // Utils.js getMessageModel / sendMessage: link detection (previews are not emulated).
  const urlPattern = /\bhttps?:\/\/[^\s<>"]+/gi;
  const findLinks = (text) =>
    typeof text === 'string'
      ? (text.match(urlPattern) || []).map((href) => ({ href, url: href }))
      : [];
  define('WALinkify', { findLinks, findLink: (text) => findLinks(text)[0] || null });
  define('WAWebLinkPreviewChatAction', { getLinkPreview: async () => null });
  define('WAWebGetEphemeralFieldsMsgActionsUtils', { getEphemeralFields: () => ({}) });
  define('WAWebMsgReply', { canReplyMsg: () => true });

  // Utils.js sendSeen.
  define('WAWebStreamModel', { Stream: { markAvailable() {}, markUnavailable() {} } });
  define('WAWebUpdateUnreadChatAction', {
    sendSeen: async ({ chat }) => chat.set('unreadCount', 0),
  });
  define('WAWebPresenceChatAction', {
    sendPresenceAvailable: async () => {},
    sendPresenceUnavailable: async () => {},
  });

  // Client.js attachEventListeners: assigns isPlaceholderMessageResendEnabled; looks for a Map
  // inside WAWebCallCollection and patches its `set`; injectToFunction patches the bulkUpserts.
  define('WAWebSyncGatingUtils', { isPlaceholderMessageResendEnabled: () => false });
  const CallCollection = new EventEmitter();
  CallCollection.calls = new Map();
  define('WAWebCallCollection', CallCollection);
  define('WAWebAddonReactionTableMode', {
    reactionTableMode: { bulkUpsert: async (rows) => rows },
  });
  define('WAWebAddonPollVoteTableMode', {
    pollVoteTableMode: { bulkUpsert: async (rows) => rows },
  });

  // --- The send (Utils.js sendMessage -> addAndSendMsgToChat) ---------------------------------

  /**
   * Acks the page applied, confirmed to the server in batches (`acked`): one it never confirms
   * (the page went away first) is pushed again on its next link.
   */
  const ackConfirms = new Map();
  let ackFlush = null;
  function confirmAck(msg) {
    ackConfirms.set(msg.id._serialized, msg.ack);
    if (ackFlush) return;
    ackFlush = setTimeout(() => {
      ackFlush = null;
      const acks = [...ackConfirms].map(([id, ack]) => ({ id, ack }));
      ackConfirms.clear();
      rpc('acked', { acks }).catch(() => {});
    }, 20);
  }

  /** Acks rise on their own (server 1, delivered 2, read 3); -1 is the send's failure. */
  function raiseAck(msg, ack) {
    if ((msg.ack ?? 0) < ack) msg.set('ack', ack);
    confirmAck(msg);
  }

  const never = () => new Promise(() => {});

  /**
   * [msgPromise, sendResultPromise], as WhatsApp Web's: the message goes into the local store at
   * ack 0 and msgPromise resolves with it BEFORE the server has it; the server's answer then
   * raises it to ack 1 (`change:ack`, which whatsapp-web.js emits as `message_ack` 1), and the
   * delivery/read acks follow as pushes. So sendMessage resolves with the Msg at ack 0.
   *
   * The only server call before the store is `sendFault`: the emulated fault armed for this send
   * (control API send-fault), which decides what happens next:
   * - `ok`: as above; sendResult resolves {messageSendResult: 'OK'} once the server has it.
   * - `undefined`: as `ok`, but the Msg reaches the store a moment after msgPromise resolved, so
   *   Utils.js's `Msg.get(...)` after `await msgPromise` finds nothing and sendMessage resolves
   *   undefined; the message is sent, acked and listed in fetchMessages.
   * - `fail`: the server refuses it: the Msg stays in the local store and gets ack -1 (ERROR,
   *   `message_ack` -1); sendMessage has already resolved with the Msg at ack 0 (with
   *   waitUntilMsgSent it resolves too, after sendResult {messageSendResult: 'ERROR'}: Utils.js
   *   does not look at it). Not in the sent log.
   * - `no-server-ack`: stored at ack 0 and resolved, but the server never gets it: no ack ever,
   *   not in the sent log, sendResult never settles.
   * - `hang`: the local store never takes it: neither promise settles, nothing is sent.
   */
  function addAndSendMsgToChat(chat, message) {
    const quoted = message.quotedStanzaID
      ? MsgStore.find((m) => m.id.id === message.quotedStanzaID)
      : undefined;
    const fault = rpc('sendFault', {}).then(({ mode }) => mode);
    const created = fault.then((mode) =>
      mode === 'hang' ? never() : new Msg({ ...message, ack: 0 }),
    );
    const store = (msg) => {
      MsgStore.add(msg);
      chat.msgs.add(msg);
      chat.t = msg.t;
      return msg;
    };
    /** The Msg once it is in the store (a task after msgPromise resolved, for `undefined`). */
    const stored = created.then(async (msg) =>
      (await fault) === 'undefined'
        ? new Promise((resolve) => setTimeout(() => resolve(store(msg)), 0))
        : store(msg),
    );
    const msgPromise = created.then(async (msg) => ((await fault) === 'undefined' ? msg : stored));
    const sendResult = stored.then(async (msg) => {
      const mode = await fault;
      if (mode === 'no-server-ack') return never();
      try {
        const media = window.__emu.hooks.mediaForSend
          ? await window.__emu.hooks.mediaForSend(message)
          : undefined;
        const result = await rpc('send', {
          id: message.id.id,
          to: chat.id._serialized,
          type: message.type,
          body: message.type === 'chat' ? message.body || '' : message.caption || '',
          fault: mode,
          ...(quoted ? { quotedMsgId: quoted.id._serialized } : {}),
          ...(media ? { media } : {}),
        });
        raiseAck(msg, result.ack);
        return { messageSendResult: 'OK' };
      } catch (err) {
        // Anything but the emulated refusal is an emulator bug (e.g. a file whose hash is not
        // its own): the page console shows it, and the specs fail on page console errors.
        if (err.code !== 'send_failed') console.error('emulator send failed', err);
        msg.set('ack', -1);
        return { messageSendResult: 'ERROR' };
      }
    });
    // Only awaited with waitUntilMsgSent; a rejection (sendFault failed) is msgPromise's too.
    sendResult.catch(() => {});
    return [msgPromise, sendResult];
  }
  define('WAWebSendMsgChatAction', { addAndSendMsgToChat });

  // getNumberId: {wid} for a number on WhatsApp (its canonical id), null otherwise.
  define('WAWebQueryExistsJob', {
    queryWidExists: async (wid) => {
      const { wid: canonical } = await rpc('queryExists', { number: createWid(wid).user });
      return canonical ? { wid: createWid(canonical) } : null;
    },
  });

  // structures/Chat.js fetchMessages: when the chat holds fewer than `limit`, it asks for
  // earlier ones until none come. The server has the account's history (it survives a restart
  // of the page): the first call returns all of it that the chat lacks, later calls nothing.
  define('WAWebChatLoadMessages', {
    loadEarlierMsgs: async ({ chat }) => {
      if (chat.historyLoaded) return [];
      chat.historyLoaded = true;
      const records = await rpc('history', { chat: chat.id._serialized });
      const earlier = [];
      for (const record of records) {
        if (chat.msgs.get(record.waMessageId)) continue;
        const msg = MsgStore.get(record.waMessageId) || MsgStore.add(msgFromRecord(record, false));
        chat.msgs.add(msg);
        earlier.push(msg);
      }
      return earlier;
    },
  });

  // --- Server pushes: acks and incoming messages ------------------------------------------------

  // A changed ack fires the Msg `change:ack` whatsapp-web.js turns into `message_ack`. The
  // network's acks only rise; one the control API sets (`force`: -1, or lower than now) applies
  // as it is.
  // Held until whatsapp-web.js listens to `change:ack` (after ready, so after the boot's
  // loadRecent): an ack applied before would fire no `message_ack` and be lost to the app.
  let acksListened = false;
  const heldAcks = [];
  function applyAck({ id, ack, force }) {
    const msg = MsgStore.get(id);
    if (!msg) return;
    if (force) {
      msg.set('ack', ack);
      confirmAck(msg);
    } else raiseAck(msg, ack);
  }
  MsgStore.whenListened('change:ack', () => {
    acksListened = true;
    for (const held of heldAcks.splice(0)) applyAck(held);
  });
  onPush('ack', (push) => (acksListened ? applyAck(push) : heldAcks.push(push)));

  /**
   * Incoming messages wait until the app listens to Msg `add` (whatsapp-web.js does once it is
   * ready), as WhatsApp Web's offline queue does: none is lost between page load and ready. Only
   * once a message is in the store with the app listening does the page confirm it to the server
   * (`delivered`); an unconfirmed one (the page reloaded, the browser died) is pushed again on the
   * next link, and one the page already holds is dropped by id (and confirmed again).
   */
  const inbox = new Map();
  let appListens = false;
  function deliverInbox() {
    if (!appListens || !inbox.size) return;
    const confirmed = [];
    for (const [id, record] of inbox) {
      inbox.delete(id);
      confirmed.push(id);
      if (MsgStore.get(id)) continue;
      const msg = msgFromRecord(record, true);
      const chat = chatFor(msg.id.remote);
      const contact = ContactStore.get(msg.from) || ContactStore.fetchModel(msg.from);
      if (record.notifyName) contact.set('pushname', record.notifyName);
      MsgStore.add(msg);
      chat.msgs.add(msg);
      chat.t = msg.t;
      chat.set('unreadCount', (chat.unreadCount || 0) + 1);
    }
    // Not confirmed (the page went away first): the server pushes it again on the next link.
    rpc('delivered', { ids: confirmed }).catch(() => {});
  }
  MsgStore.whenListened('add', () => {
    appListens = true;
    deliverInbox();
  });
  onPush('incoming', ({ msg }) => {
    inbox.set(msg.waMessageId, msg);
    deliverInbox();
  });

  /** How many of the account's newest messages a page loads at boot. */
  const RECENT_MESSAGES = 500;

  /**
   * At boot (the account connected), the account's recent messages go into the store as known
   * ones (isNewMsg false: whatsapp-web.js emits nothing for them), as WhatsApp Web restores its
   * local database: acks of messages sent before a reload or a browser restart then reach their
   * Msg and fire `message_ack`. auth.js calls it before the page reports itself synced.
   */
  async function loadRecent() {
    if (!window.__emu.me) return;
    const records = await rpc('history', { limit: RECENT_MESSAGES });
    for (const record of records) {
      if (MsgStore.get(record.waMessageId)) continue;
      const msg = MsgStore.add(msgFromRecord(record, false));
      const chat = chatFor(msg.id.remote);
      chat.msgs.add(msg);
      if ((chat.t || 0) < msg.t) chat.t = msg.t;
    }
  }
  window.__emu.hooks.loadRecent = loadRecent;

  // For media.js and tests of the page: the building blocks.
  window.__emu.messages = { Wid, MsgKey, Msg, Chat, msgFromRecord, chatFor, createWid };
})();
