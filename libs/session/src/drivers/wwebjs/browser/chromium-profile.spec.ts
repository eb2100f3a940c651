import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertChromiumUsable,
  chromiumArgs,
  CONTAINER_CHROMIUM_ARGS,
  FORBIDDEN_DEFAULT_CHROMIUM_ARGS,
  parseChromiumArgsOverride,
} from './chromium-profile';

describe('chromiumArgs', () => {
  it('adds --no-sandbox as root, and only as root', () => {
    expect(chromiumArgs({ runningAsRoot: true })).toContain('--no-sandbox');
    expect(chromiumArgs({ runningAsRoot: false })).not.toContain('--no-sandbox');
    expect(chromiumArgs({ runningAsRoot: false })).toEqual([...CONTAINER_CHROMIUM_ARGS]);
  });

  it('keeps the documented container profile and leaves out --single-process and --no-zygote', () => {
    const args = chromiumArgs({ runningAsRoot: true });
    for (const flag of [
      '--disable-dev-shm-usage',
      '--disable-gpu',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-extensions',
      '--disable-default-apps',
      '--mute-audio',
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
      '--metrics-recording-only',
      '--password-store=basic',
    ]) {
      expect(args).toContain(flag);
    }
    for (const flag of [...FORBIDDEN_DEFAULT_CHROMIUM_ARGS, '--single-process', '--no-zygote']) {
      expect(args).not.toContain(flag);
    }
    expect(new Set(args).size).toBe(args.length);
  });

  it('lets an override replace the profile, still adding --no-sandbox once as root', () => {
    expect(chromiumArgs({ override: '--foo --bar=1', runningAsRoot: false })).toEqual([
      '--foo',
      '--bar=1',
    ]);
    expect(chromiumArgs({ override: '--foo,--bar=1', runningAsRoot: true })).toEqual([
      '--foo',
      '--bar=1',
      '--no-sandbox',
    ]);
    expect(chromiumArgs({ override: '--no-sandbox --foo', runningAsRoot: true })).toEqual([
      '--no-sandbox',
      '--foo',
    ]);
  });

  it('appends extra flags (CHROMIUM_EXTRA_ARGS) to the profile, or to an override', () => {
    expect(
      chromiumArgs({ extra: '--proxy-server=http://127.0.0.1:1 --x', runningAsRoot: false }),
    ).toEqual([...CONTAINER_CHROMIUM_ARGS, '--proxy-server=http://127.0.0.1:1', '--x']);
    expect(chromiumArgs({ override: '--foo', extra: '--a,--b', runningAsRoot: true })).toEqual([
      '--foo',
      '--a',
      '--b',
      '--no-sandbox',
    ]);
    // Parsed like CHROMIUM_ARGS: a comma inside a value stays in it.
    expect(
      chromiumArgs({ override: '--foo', extra: ' --disable-features=A,B ', runningAsRoot: false }),
    ).toEqual(['--foo', '--disable-features=A,B']);
    // --no-sandbox given as an extra flag is not added twice.
    expect(chromiumArgs({ override: '--foo', extra: '--no-sandbox', runningAsRoot: true })).toEqual(
      ['--foo', '--no-sandbox'],
    );
  });

  it('treats empty extra flags as unset', () => {
    expect(chromiumArgs({ extra: ' \n ', runningAsRoot: false })).toEqual([
      ...CONTAINER_CHROMIUM_ARGS,
    ]);
  });

  it('treats an empty override as unset', () => {
    expect(chromiumArgs({ override: '  ', runningAsRoot: false })).toEqual([
      ...CONTAINER_CHROMIUM_ARGS,
    ]);
  });

  it('splits on whitespace and on commas that start a flag, not inside a value', () => {
    expect(parseChromiumArgsOverride(' --a ,--b\n--disable-features=X,Y  --c, --d')).toEqual([
      '--a',
      '--b',
      '--disable-features=X,Y',
      '--c',
      '--d',
    ]);
  });

  it('does not let callers mutate the shared profile', () => {
    const args = chromiumArgs({ runningAsRoot: false });
    args.push('--mutated');
    expect(CONTAINER_CHROMIUM_ARGS).not.toContain('--mutated');
    expect(Object.isFrozen(CONTAINER_CHROMIUM_ARGS)).toBe(true);
  });
});

describe('assertChromiumUsable', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'chromium-usable-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names CHROMIUM_PATH, the path and how to install when the file is missing', () => {
    const missing = join(dir, 'no-chromium');
    expect(() => assertChromiumUsable(missing)).toThrow(/CHROMIUM_PATH/);
    expect(() => assertChromiumUsable(missing)).toThrow(missing);
    expect(() => assertChromiumUsable(missing)).toThrow('apt-get install -y chromium');
  });

  it('rejects an empty path, a directory and a file without execute permission', () => {
    expect(() => assertChromiumUsable('')).toThrow(/CHROMIUM_PATH/);
    expect(() => assertChromiumUsable(dir)).toThrow(/CHROMIUM_PATH=.*not a file/);
    const notExecutable = join(dir, 'chromium');
    writeFileSync(notExecutable, '#!/bin/sh\n');
    chmodSync(notExecutable, 0o644);
    expect(() => assertChromiumUsable(notExecutable)).toThrow(/not executable/);
  });

  it('accepts an executable file', () => {
    const fake = join(dir, 'chromium');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    expect(() => assertChromiumUsable(fake)).not.toThrow();
  });
});
