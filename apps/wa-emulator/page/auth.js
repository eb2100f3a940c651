// Socket, connection, commands, QR and pairing-code linking: the modules whatsapp-web.js's
// `inject()` (Client.js), `ExposeAuthStore` (util/Injected/AuthStore/AuthStore.js),
// `requestPairingCode`, `logout` and `getState` use, driven by the server's pushes.
'use strict';
(function () {
  const { define, EventEmitter, Model, rpc, onPush } = window.__emu;

  // --- WAWebSocketModel.Socket: Client.js inject() waits on `state`, listens to `change:state`
  // and `change:hasSynced`; getState() reads `state`; logout() calls `logout()`; a CONFLICT with
  // takeoverOnConflict calls `takeover()`.
  const Socket = new Model({ state: 'OPENING', hasSynced: false });
  Socket.logout = async function logout() {
    await rpc('logout', {});
    // WhatsApp Web forgets its keys on logout: the next page load is a new, unlinked device.
    localStorage.removeItem('emu.deviceId');
    window.__emu.me = null;
  };
  Socket.takeover = async function takeover() {
    await rpc('takeover', {});
  };
  define('WAWebSocketModel', { Socket });

  // --- WAWebConnModel.Conn: `ref` (the QR ref; whatsapp-web.js listens to `change:ref` for
  // rotations), and what Client.js copies into `client.info` (Conn.serialize()).
  const Conn = new Model({ ref: null, pushname: undefined, platform: 'android' });
  define('WAWebConnModel', { Conn });

  // --- WAWebCmd.Cmd: whatsapp-web.js listens to `logout`, `logout_from_bridge` and
  // `offline_progress_update_from_bridge`, and calls `refreshQR()` on UNPAIRED_IDLE.
  const Cmd = new EventEmitter();
  Cmd.refreshQR = () => rpc('refreshQR', {});
  define('WAWebCmd', { Cmd });
  define('WAWebLaunchSocketUtils', { refreshQR: () => rpc('refreshQR', {}) });

  define('WAWebOfflineHandler', {
    OfflineMessageHandler: { getOfflineDeliveryProgress: () => 100 },
  });

  // --- The QR string parts (Client.js inject(): ref,staticKey,identityKey,advSecret,platform).
  // Random per page load: nothing here is a real key, the server matches on the ref only.
  const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));
  const encodeB64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
  const staticKey = randomBytes(32);
  const identityKey = randomBytes(32);
  const advSecret = encodeB64(randomBytes(32));
  define('WABase64', { encodeB64 });
  define('WAWebCompanionRegClientUtils', { DEVICE_PLATFORM: 'Chrome' });
  define('WAWebAdvSignatureApi', {});
  define('WAWebUserPrefsInfoStore', {
    waNoiseInfo: { get: async () => ({ staticKeyPair: { pubKey: staticKey } }) },
  });
  define('WAWebSignalStoreApi', {
    waSignalStore: {
      getRegistrationInfo: async () => ({ identityKeyPair: { pubKey: identityKey } }),
    },
  });
  define('WAWebUserPrefsMultiDevice', { getADVSecretKey: () => advSecret });

  // --- Who is logged in: Client.js builds `client.info.wid` from these; Utils.js sendMessage
  // takes `from` from them.
  const meWid = () =>
    window.__emu.me
      ? window.require('WAWebWidFactory').createWid(`${window.__emu.me.phone}@c.us`)
      : null;
  define('WAWebUserPrefsMeUser', {
    getMaybeMePnUser: meWid,
    getMaybeMeLidUser: () => null,
    getMePnUserOrThrow: () => {
      const me = meWid();
      if (!me) throw new Error('not logged in');
      return me;
    },
  });

  // --- Pairing code (Client.js requestPairingCode): setPairingType, initializeAltDeviceLinking,
  // startAltLinkingFlow(phone) -> the 8-character code the user types on the phone.
  let pairingType = 'QR';
  define('WAWebAltDeviceLinkingApi', {
    setPairingType: (type) => {
      pairingType = type;
    },
    getPairingType: () => pairingType,
    initializeAltDeviceLinking: async () => {},
    initializeQRLinking: async () => {
      pairingType = 'QR';
    },
    startAltLinkingFlow: async (phoneNumber) => {
      const { code } = await rpc('requestPairingCode', { phone: String(phoneNumber) });
      return code;
    },
  });

  // Client.js setDeviceName() wraps `info` (it reads, then assigns).
  define('WAWebMiscBrowserUtils', {
    info: () => ({ name: 'Chrome', os: 'Linux', ua: navigator.userAgent }),
  });

  // --- Server pushes ---------------------------------------------------------------------

  function setMe(me) {
    window.__emu.me = me || null;
    if (me) Conn.set({ pushname: me.pushname, wid: meWid() });
  }

  /**
   * Connected and synced: whatsapp-web.js treats `hasSynced` as "authenticated, inject now".
   * The account's recent messages are in the store first (messages.js loadRecent).
   */
  function syncWhenListened() {
    const loadRecent = window.__emu.hooks.loadRecent;
    Promise.resolve(loadRecent && loadRecent())
      .catch((err) => console.error('emulator: loading recent messages failed', err))
      .then(() => Socket.whenListened('change:hasSynced', () => Socket.set('hasSynced', true)));
  }

  onPush('state', (push) => {
    if (push.me) setMe(push.me);
    if (push.ref) Conn.set('ref', push.ref);
    Socket.set('state', push.state);
    if (push.state === 'CONNECTED') syncWhenListened();
  });

  onPush('ref', (push) => Conn.set('ref', push.ref));

  // The phone scanned the QR / confirmed the code: WhatsApp Web goes PAIRING, then CONNECTED.
  onPush('linked', (push) => {
    setMe(push.me);
    Socket.set('state', 'PAIRING');
    Socket.set('state', 'CONNECTED');
    syncWhenListened();
  });

  // The phone removed this device: WhatsApp Web clears its storage, fires Cmd `logout` and
  // navigates to /?post_logout=1 (Client.js reacts to both: onLogoutEvent, framenavigated).
  onPush('logout', () => {
    localStorage.removeItem('emu.deviceId');
    window.__emu.me = null;
    Cmd.trigger('logout');
    // A moment for the `logout` binding call to leave the page before it unloads.
    setTimeout(() => location.replace('/?post_logout=1'), 50);
  });

  // "A page that stops answering": the renderer's main thread never comes back.
  onPush('freeze', () => {
    for (;;) {
      // busy forever, on purpose
    }
  });

  onPush('reload', () => location.reload());
})();
