// Puppeteer must never download a browser: the system Chromium (CHROMIUM_PATH) is used.
// (npm's `config` key does not reach puppeteer, see puppeteer#10757; this file does.)
module.exports = { skipDownload: true };
