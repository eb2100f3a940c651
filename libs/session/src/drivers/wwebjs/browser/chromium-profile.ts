import { accessSync, constants, statSync } from 'node:fs';

/**
 * Chromium flags for a headless sender worker in a container.
 *
 * Puppeteer 24 already passes most of these in its own defaults, but we list them here so the
 * profile does not silently change when puppeteer changes its defaults, and so it still holds when
 * a caller uses `ignoreDefaultArgs`. Chromium ignores a flag given twice.
 *
 * Deliberately absent:
 * - `--single-process`: reported to cause detached frames and crashes (open-wa #3350; a team cured
 *   "Session closed" by removing it). It also puts the whole browser in one process, so a renderer
 *   crash takes the browser down.
 * - `--no-zygote`: broke launches under some process supervisors.
 * - `--no-sandbox`: only added by {@link chromiumArgs} when running as root, where Chromium refuses
 *   to start with its sandbox.
 * - `--disable-software-rasterizer`: measured here it only saves ~20 MB in the GPU process (the
 *   process stays) and turns WebGL off, which is not worth a possible WhatsApp Web breakage.
 */
export const CONTAINER_CHROMIUM_ARGS: readonly string[] = Object.freeze([
  // Resources of a container: Docker gives /dev/shm only 64 MB, and Chromium crashes when its
  // shared memory there runs out; write it to /tmp instead. No GPU in a container: do not probe one.
  '--disable-dev-shm-usage',
  '--disable-gpu',

  // First-run UI and prompts nobody will ever see in a headless worker.
  '--no-first-run',
  '--no-default-browser-check',

  // The network is closed (or should only carry WhatsApp traffic): no background fetches of
  // components, sync, safe-browsing lists, pings or field trials. Each would only time out,
  // log errors or spend CPU and memory.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-client-side-phishing-detection',
  '--disable-domain-reliability',
  '--no-pings',
  '--metrics-recording-only',

  // Nothing to load: fewer processes and less memory per session.
  '--disable-extensions',
  '--disable-component-extensions-with-background-pages',
  '--disable-default-apps',
  '--mute-audio',

  // No crash dumps: nobody uploads them, and they would fill the disk of a crash-looping worker.
  // A crash is detected from puppeteer events instead (see browser-watch.ts).
  '--disable-breakpad',

  // The WhatsApp Web tab is never visible. Without these Chromium throttles its timers and
  // deprioritises its renderer as a background tab, which delays incoming messages, acks and the
  // keep-alive of the WhatsApp socket.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',

  // A slow page must not be killed by the hang monitor behind our back: our own watchdog decides.
  '--disable-hang-monitor',

  // No keyring in a container: store the profile's secrets in plain files instead of blocking on
  // a D-Bus secret service that is not there.
  '--password-store=basic',
]);

/** Flags we never add by default, see the comment on {@link CONTAINER_CHROMIUM_ARGS}. */
export const FORBIDDEN_DEFAULT_CHROMIUM_ARGS: readonly string[] = Object.freeze([
  '--single-process',
  '--no-zygote',
]);

/**
 * Parses CHROMIUM_ARGS and CHROMIUM_EXTRA_ARGS: flags separated by whitespace or by commas that
 * start a new flag (`--a,--b`). A comma inside a value (`--disable-features=A,B`) is kept, since
 * splitting it would turn `B` into a bogus argument.
 */
export function parseChromiumArgsOverride(override: string): string[] {
  return override
    .split(/\s+|,(?=\s*--)/)
    .map((arg) => arg.trim())
    .filter((arg) => arg.length > 0);
}

/**
 * The Chromium arguments for a sender worker.
 *
 * Rules:
 * - Without `override` (or an empty one): {@link CONTAINER_CHROMIUM_ARGS}.
 * - With `override` (the env var CHROMIUM_ARGS): it REPLACES the profile, taken verbatim. It is the
 *   escape hatch for an operator, so it is not filtered.
 * - `extra` (the env var CHROMIUM_EXTRA_ARGS) is appended to whichever of the two applies, parsed
 *   the same way. It exists so a deployment can ADD flags (the WhatsApp Web emulator's
 *   `--proxy-server=…` and `--ignore-certificate-errors-spki-list=…`) without copying the whole
 *   profile into CHROMIUM_ARGS and silently losing the profile's later changes.
 * - As root, `--no-sandbox` is always appended (once): Chromium refuses to start as root with its
 *   sandbox (measured here: the launch fails with "Target closed"), so there is nothing an override
 *   could opt out of.
 */
export function chromiumArgs(opts: {
  override?: string;
  extra?: string;
  runningAsRoot: boolean;
}): string[] {
  const override = opts.override?.trim();
  const args = override ? parseChromiumArgsOverride(override) : [...CONTAINER_CHROMIUM_ARGS];
  args.push(...parseChromiumArgsOverride(opts.extra ?? ''));
  if (opts.runningAsRoot && !args.includes('--no-sandbox')) {
    args.push('--no-sandbox');
  }
  return args;
}

/**
 * Fails fast with an actionable message when the configured Chromium is missing. Puppeteer would
 * otherwise fail later with "Browser was not found at the configured executablePath", and we never
 * let puppeteer download a browser of its own.
 */
export function assertChromiumUsable(path: string): void {
  const hint =
    'Install it with `apt-get install -y chromium` (Debian) or set CHROMIUM_PATH to a Chromium or Chrome binary.';
  if (!path) {
    throw new Error(`CHROMIUM_PATH is empty: no Chromium to launch. ${hint}`);
  }
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new Error(`Chromium not found at CHROMIUM_PATH=${path}. ${hint}`);
  }
  if (!isFile) {
    throw new Error(`CHROMIUM_PATH=${path} is not a file. ${hint}`);
  }
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`Chromium at CHROMIUM_PATH=${path} is not executable. ${hint}`);
  }
}
