// Whether a built dist/ is older than its sources: the newest mtime of the TypeScript files under
// a folder (npm start and npm run emulator rebuild when a source is newer than what they run).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** The newest modification time (ms) of the .ts files under `dir`, 0 if none. */
function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

module.exports = { newestMtime };
