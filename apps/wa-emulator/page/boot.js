// Boot: opens the link to the emulator server, and once its first push (the device's state) is
// applied, sets window.Debug.VERSION, which whatsapp-web.js's inject() polls for before it
// touches any module. The version is realistic (>= every version Utils.js and Message.js compare
// against) and is NOT whatsapp-web.js's default webVersion, so its LocalWebCache never serves
// this page in place of the real WhatsApp Web.
'use strict';
(function () {
  const VERSION = '2.3000.1032000000';
  window.__emu.link = window.__emu.openLink(() => {
    window.Debug = { VERSION };
  });
})();
