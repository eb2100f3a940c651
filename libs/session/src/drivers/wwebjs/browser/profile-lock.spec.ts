import { spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../../../../../test/support/wait-for';
import { clearStaleSingletonLock } from './profile-lock';

/** Chromium-independent cases; browser.int-spec.ts covers locks of real browsers. */
describe('clearStaleSingletonLock', () => {
  let profile: string;
  let socketDir: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    profile = mkdtempSync(join(tmpdir(), 'profile-lock-'));
    socketDir = mkdtempSync(join(tmpdir(), 'org.chromium.Chromium.'));
  });
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
    rmSync(socketDir, { recursive: true, force: true });
  });

  const exists = (file: string): boolean => {
    try {
      lstatSync(join(profile, file));
      return true;
    } catch {
      return false;
    }
  };
  const lockWith = (holder: string): void => {
    symlinkSync(holder, join(profile, 'SingletonLock'));
    writeFileSync(join(socketDir, 'SingletonSocket'), '');
    symlinkSync(join(socketDir, 'SingletonSocket'), join(profile, 'SingletonSocket'));
    symlinkSync('1234567890', join(profile, 'SingletonCookie'));
  };
  const expectCleared = (): void => {
    expect(['SingletonLock', 'SingletonSocket', 'SingletonCookie'].filter(exists)).toEqual([]);
    // The leaked socket directory in /tmp goes too.
    expect(existsSync(socketDir)).toBe(false);
  };

  it('does nothing when there is no lock', () => {
    mkdirSync(join(profile, 'Default'));
    expect(clearStaleSingletonLock(profile)).toEqual({ removed: false });
    expect(existsSync(join(profile, 'Default'))).toBe(true);
  });

  it('removes a lock of another host (the previous container)', () => {
    lockWith(`some-other-host-${process.pid}`);
    expect(clearStaleSingletonLock(profile)).toEqual({
      removed: true,
      holder: `some-other-host-${process.pid}`,
    });
    expectCleared();
  });

  it('removes a lock whose pid is dead on this host', async () => {
    const child = spawn('true');
    await new Promise((resolve) => child.once('exit', resolve));
    lockWith(`${hostname()}-${child.pid}`);
    expect(clearStaleSingletonLock(profile)).toEqual({
      removed: true,
      holder: `${hostname()}-${child.pid}`,
    });
    expectCleared();
  });

  it('removes a lock whose pid was reused by a live process that is not a Chromium', () => {
    // Our own pid: alive, but `node`, as happens after a container restart restarts pids.
    lockWith(`${hostname()}-${process.pid}`);
    expect(clearStaleSingletonLock(profile).removed).toBe(true);
    expectCleared();
  });

  it('keeps a lock held by a live Chromium on this host', async () => {
    // A live process named "chromium" (a copy of sleep), without starting a browser.
    const fakeChromium = join(profile, 'chromium');
    copyFileSync('/bin/sleep', fakeChromium);
    const fake = spawn(fakeChromium, ['30'], { stdio: 'ignore' });
    children.push(fake);
    await waitFor(
      'the fake chromium to run',
      () => readFileSync(`/proc/${fake.pid}/comm`, 'utf8').trim() === 'chromium',
    );
    lockWith(`${hostname()}-${fake.pid}`);
    expect(clearStaleSingletonLock(profile)).toEqual({
      removed: false,
      holder: `${hostname()}-${fake.pid}`,
    });
    expect(['SingletonLock', 'SingletonSocket', 'SingletonCookie'].filter(exists)).toHaveLength(3);
    expect(existsSync(socketDir)).toBe(true);
  });

  it('removes an unparseable lock and a lock that is a regular file', () => {
    symlinkSync('garbage', join(profile, 'SingletonLock'));
    expect(clearStaleSingletonLock(profile)).toEqual({ removed: true, holder: 'garbage' });
    expect(exists('SingletonLock')).toBe(false);
    writeFileSync(join(profile, 'SingletonLock'), '');
    expect(clearStaleSingletonLock(profile).removed).toBe(true);
    expect(exists('SingletonLock')).toBe(false);
  });
});
