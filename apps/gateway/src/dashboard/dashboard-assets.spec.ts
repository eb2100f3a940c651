import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DashboardAssets, PAGE_FILES } from './dashboard-assets';

describe('DashboardAssets', () => {
  const assets = new DashboardAssets();

  it('holds the page and every file it loads, with their content types', () => {
    expect(assets.page.contentType).toBe('text/html; charset=utf-8');
    const html = assets.page.body.toString('utf8');
    for (const [name, type] of Object.entries(PAGE_FILES)) {
      expect(html).toContain(`/dashboard/${name}`);
      expect(assets.asset(name)).toMatchObject({ contentType: type });
      expect(assets.asset(name)!.body.length).toBeGreaterThan(0);
    }
  });

  it('answers only names on its list: no path reaches the filesystem', () => {
    for (const name of [
      'index.html',
      '../package.json',
      '..%2fpackage.json',
      'assets/dashboard.js',
      'dashboard.js/',
      'DASHBOARD.JS',
      '__proto__',
      'constructor',
      '',
    ]) {
      expect([name, assets.asset(name)]).toEqual([name, undefined]);
    }
  });

  it('refuses to start without one of its files (at boot, not at the first request)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-assets-'));
    try {
      writeFileSync(join(dir, 'index.html'), '<!doctype html>');
      expect(() => new DashboardAssets(dir)).toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
