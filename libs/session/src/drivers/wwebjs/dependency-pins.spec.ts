import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

/**
 * The driver subclasses and reaches into whatsapp-web.js internals (RemoteAuth, the Client's
 * pupBrowser / pupPage), so a minor release can break it silently: the version is pinned exactly,
 * and only a deliberate bump (with the driver's specs run again) changes it. And the library must
 * get puppeteer-core, not the full puppeteer with its browser-download stack: nothing here may
 * ever download a browser (the system Chromium is used).
 */
describe('whatsapp-web.js and puppeteer pins', () => {
  const pkg = readJson<{
    dependencies: Record<string, string>;
    overrides: Record<string, unknown>;
  }>(join(__dirname, '../../../../../package.json'));

  it('pins whatsapp-web.js to one exact version, the one installed', () => {
    const wanted = pkg.dependencies['whatsapp-web.js'];
    expect(wanted).toMatch(/^\d+\.\d+\.\d+$/);
    const installed = readJson<{ version: string }>(
      require.resolve('whatsapp-web.js/package.json'),
    );
    expect(installed.version).toBe(wanted);
  });

  it('gives whatsapp-web.js puppeteer-core when it asks for puppeteer', () => {
    // Resolve `puppeteer` from where whatsapp-web.js's Client requires it.
    const fromClient = require.resolve('puppeteer/package.json', {
      paths: [dirname(require.resolve('whatsapp-web.js'))],
    });
    expect(readJson<{ name: string }>(fromClient).name).toBe('puppeteer-core');
    expect(pkg.overrides.puppeteer).toMatch(/^npm:puppeteer-core@/);
  });
});
