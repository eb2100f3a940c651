import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One file of the dashboard, held in memory: the page is a handful of small files. */
export interface DashboardAsset {
  body: Buffer;
  contentType: string;
}

/**
 * The files the dashboard serves, by the name in their URL. A fixed list read once at boot from
 * `assets/` beside this module (copied into dist by `nest build`, nest-cli.json "assets"): no
 * path from a request ever reaches the filesystem, and a missing file stops the gateway at boot
 * instead of answering 404 to an operator mid-incident.
 */
const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/** The files the page loads (`/dashboard/<name>`) with their content types; not the page. */
export const PAGE_FILES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(FILES).filter(([name]) => name !== 'index.html'),
);

export class DashboardAssets {
  private readonly files = new Map<string, DashboardAsset>();

  constructor(dir: string = join(__dirname, 'assets')) {
    for (const [name, contentType] of Object.entries(FILES)) {
      this.files.set(name, { body: readFileSync(join(dir, name)), contentType });
    }
  }

  /** The page itself (`GET /`). */
  get page(): DashboardAsset {
    return this.files.get('index.html')!;
  }

  /** A file the page loads (`GET /dashboard/<name>`), or undefined for any other name. */
  asset(name: string): DashboardAsset | undefined {
    return name === 'index.html' ? undefined : this.files.get(name);
  }
}
