// Puppeteer must never download a browser: the system Chromium (CHROMIUM_PATH) is used.
// whatsapp-web.js asks for the full `puppeteer`; package.json's `overrides` gives it
// `puppeteer-core` instead (same API, no browser-download stack). This file stays as a second
// guard for anything that still pulls the full package in (npm's `config` key does not reach
// puppeteer, see puppeteer#10757; this file does).
module.exports = { skipDownload: true };
