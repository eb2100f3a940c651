import { spawn, type ChildProcess } from 'node:child_process';
import {
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { waitFor } from '../../../../../../test/support/wait-for';
import { watchBrowser, type BrowserLostCode } from './browser-watch';
import { chromiumArgs, FORBIDDEN_DEFAULT_CHROMIUM_ARGS } from './chromium-profile';
import { clearStaleSingletonLock } from './profile-lock';
import { descendantPids, isAlive, killProcessTree, processTreeMemoryMb } from './process-tree';

/**
 * These specs launch the real system Chromium through puppeteer, as the sender worker does:
 * always with `executablePath` (puppeteer must never download a browser) and `pipe: true` (so the
 * browser dies with its Node parent).
 */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = chromiumArgs({ runningAsRoot: process.getuid?.() === 0 });
const DETECTION_BUDGET_MS = 1000;

/** What the run measured, printed once at the end (detection latencies, memory). */
const measured: Record<string, number | string> = {};

interface Launched {
  browser: Browser;
  page: Page;
  pid: number;
}

/** The plain sum of VmRSS over the tree: what processTreeMemoryMb must not be. */
function summedRssMb(pid: number): number {
  let kb = 0;
  for (const p of [pid, ...descendantPids(pid)]) {
    const m = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
    kb += m ? Number(m[1]) : 0;
  }
  return kb / 1024;
}

describe('wwebjs browser on the real Chromium', () => {
  const browsers: Browser[] = [];
  const dirs: string[] = [];
  const nodeChildren: ChildProcess[] = [];
  const pidsToReap: number[] = [];

  const tempDir = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };

  const launch = async (userDataDir = tempDir('wa-profile-')): Promise<Launched> => {
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      pipe: true,
      args: ARGS,
      userDataDir,
      timeout: 15000,
    });
    browsers.push(browser);
    const pid = browser.process()?.pid;
    if (!pid) throw new Error('puppeteer did not expose the browser process');
    pidsToReap.push(pid);
    const [page] = await browser.pages();
    return { browser, page: page ?? (await browser.newPage()), pid };
  };

  /** Watches and records when, and why, the browser was reported lost. */
  const watch = ({
    browser,
    page,
  }: Launched): {
    lost: () => { code: BrowserLostCode; detail: string; at: number } | undefined;
    stop: () => void;
  } => {
    let lost: { code: BrowserLostCode; detail: string; at: number } | undefined;
    let calls = 0;
    const stop = watchBrowser(browser, page, (code, detail) => {
      calls += 1;
      lost = { code, detail, at: performance.now() };
    });
    return {
      lost: () => {
        expect(calls).toBeLessThanOrEqual(1);
        return lost;
      },
      stop,
    };
  };

  afterEach(async () => {
    for (const child of nodeChildren.splice(0)) child.kill('SIGKILL');
    for (const browser of browsers.splice(0)) {
      if (browser.connected) {
        let timer: NodeJS.Timeout | undefined;
        const giveUp = new Promise((resolve) => (timer = setTimeout(resolve, 5000)));
        await Promise.race([browser.close(), giveUp]).catch(() => {});
        clearTimeout(timer);
      }
    }
    // Whatever survived (a failed launch, a test that stopped half-way): kill it by tree and by
    // profile, and wait for it to be gone before removing its profile.
    for (const dir of dirs) pidsToReap.push(...chromiumsUsing(dir));
    for (const pid of pidsToReap) killProcessTree(pid);
    const leftovers = pidsToReap.splice(0);
    await waitFor(
      'the browsers of the test to exit',
      () => leftovers.every((pid) => !isAlive(pid)),
      10000,
    );
    for (const dir of dirs.splice(0)) {
      // A SIGKILLed browser also leaks its /tmp/org.chromium.Chromium.* socket directory.
      clearStaleSingletonLock(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  afterAll(() => {
    console.log(`browser measurements: ${JSON.stringify(measured, null, 2)}`);
  });

  it('launches with the container profile and renders a data: page', async () => {
    const { page, pid } = await launch();
    await page.goto('data:text/html,<title>t</title><h1 id="h">rendered</h1>');
    expect(await page.$eval('#h', (el) => el.textContent)).toBe('rendered');
    const screenshot = await page.screenshot();
    expect(screenshot.length).toBeGreaterThan(1000);

    // The flags reached the browser process (through Debian's /usr/bin/chromium wrapper).
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const flag of ARGS) expect(cmdline).toContain(flag);
    for (const flag of FORBIDDEN_DEFAULT_CHROMIUM_ARGS) expect(cmdline).not.toContain(flag);
    expect(cmdline).toContain('--remote-debugging-pipe');
  });

  it('measures the memory (PSS) of the whole process tree, which grows when the page allocates 200 MB', async () => {
    const { page, pid } = await launch();
    await page.goto('data:text/html,<p>hog</p>');
    const before = processTreeMemoryMb(pid);
    expect(before).toBeGreaterThan(0);
    // The tree holds more than the browser process alone: renderers, GPU and utility processes.
    expect(descendantPids(pid).length).toBeGreaterThanOrEqual(3);
    // Shared pages (the binary, shared memory) count once in all, not once per process: well under
    // the plain sum of every process's RSS (853 vs 220 MB in the worker image).
    expect(before!).toBeLessThan(summedRssMb(pid) * 0.75);

    await page.evaluate(() => {
      const g = globalThis as unknown as { hog: Uint8Array[] };
      g.hog = [];
      for (let i = 0; i < 200; i++) g.hog.push(new Uint8Array(1024 * 1024).fill(1));
    });
    const after = await waitFor(
      'the tree memory to grow by 150 MB',
      () => {
        const now = processTreeMemoryMb(pid);
        return now !== null && now - before! >= 150 ? now : null;
      },
      5000,
    );
    measured.memoryIdleMb = before!;
    measured.memoryAfter200MbMb = after;
    measured.processesInTree = 1 + descendantPids(pid).length;
  });

  it('reports BROWSER_CRASHED within a second of a SIGKILL of the browser process', async () => {
    const launched = await launch();
    await launched.page.goto('data:text/html,<p>alive</p>');
    const watcher = watch(launched);
    const tree = descendantPids(launched.pid);

    const killedAt = performance.now();
    process.kill(launched.pid, 'SIGKILL');
    const lost = await waitFor('onLost', () => watcher.lost(), 5000);

    expect(lost.code).toBe('BROWSER_CRASHED');
    const latency = lost.at - killedAt;
    measured.browserSigkillToEventMs = Math.round(latency);
    expect(latency).toBeLessThan(DETECTION_BUDGET_MS);
    // With pipe: true the children follow their browser.
    await waitFor(
      'the children of the killed browser to exit',
      () => tree.every((pid) => !isAlive(pid)),
      5000,
    );
  });

  it('reports a renderer crash (chrome://crash) within a second', async () => {
    const launched = await launch();
    await launched.page.goto('data:text/html,<p>alive</p>');
    const watcher = watch(launched);

    const crashedAt = performance.now();
    // The navigation itself fails (net::ERR_ABORTED): the renderer dies under it.
    await launched.page.goto('chrome://crash').catch(() => undefined);
    const lost = await waitFor('onLost', () => watcher.lost(), 5000);

    expect(['RENDERER_CRASHED', 'PAGE_CLOSED']).toContain(lost.code);
    const latency = lost.at - crashedAt;
    measured.chromeCrashToEventMs = Math.round(latency);
    measured.chromeCrashEvent = `${lost.code}: ${lost.detail}`;
    expect(latency).toBeLessThan(DETECTION_BUDGET_MS);
    // The browser survives a renderer crash: only the session's page is lost.
    expect(launched.browser.connected).toBe(true);
  });

  it('reports PAGE_CLOSED when the page is closed', async () => {
    const launched = await launch();
    // Keep another tab, so closing ours does not close the browser.
    await launched.browser.newPage();
    const watcher = watch(launched);
    await launched.page.close();
    const lost = await waitFor('onLost', () => watcher.lost(), 5000);
    expect(lost.code).toBe('PAGE_CLOSED');
  });

  it('stops reporting once unsubscribed, so a deliberate close is not a crash', async () => {
    const launched = await launch();
    const watcher = watch(launched);
    watcher.stop();
    const tree = [launched.pid, ...descendantPids(launched.pid)];
    await launched.browser.close();
    await waitFor('the browser to exit', () => tree.every((pid) => !isAlive(pid)), 5000);
    expect(watcher.lost()).toBeUndefined();
  });

  it('leaves no process of the browser alive after browser.close()', async () => {
    const { browser, page, pid } = await launch();
    await page.goto('data:text/html,<p>bye</p>');
    const tree = descendantPids(pid);
    expect(tree.length).toBeGreaterThan(0);
    await browser.close();
    await waitFor('every descendant to exit', () => [pid, ...tree].every((p) => !isAlive(p)), 5000);
    expect(processTreeMemoryMb(pid)).toBeNull();
  });

  it('killProcessTree leaves no process of the tree alive', async () => {
    const { page, pid } = await launch();
    await page.goto('data:text/html,<p>doomed</p>');
    const tree = [pid, ...descendantPids(pid)];
    expect(tree.length).toBeGreaterThan(3);
    const startedAt = performance.now();
    killProcessTree(pid);
    await waitFor('every process of the tree to die', () => tree.every((p) => !isAlive(p)), 5000);
    measured.killProcessTreeToAllDeadMs = Math.round(performance.now() - startedAt);
  });

  it('a Chromium launched with pipe: true dies with its SIGKILLed Node parent', async () => {
    const dir = tempDir('wa-profile-');
    const script = `
      const puppeteer = require(${JSON.stringify(require.resolve('puppeteer-core'))});
      puppeteer
        .launch({ executablePath: process.env.CHROMIUM, headless: true, pipe: true, args: JSON.parse(process.env.ARGS), userDataDir: process.env.DIR })
        .then((b) => { console.log('BROWSER_PID ' + b.process().pid); setInterval(() => {}, 60000); })
        .catch((e) => { console.error(e); process.exit(1); });`;
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, CHROMIUM, ARGS: JSON.stringify(ARGS), DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    nodeChildren.push(child);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const browserPid = Number(
      await waitFor(
        'the child to print the browser pid',
        () => /BROWSER_PID (\d+)/.exec(stdout)?.[1],
        15000,
      ),
    );
    pidsToReap.push(browserPid);
    const tree = [
      browserPid,
      ...(await waitFor('the browser children', () => {
        const kids = descendantPids(browserPid);
        return kids.length > 0 ? kids : null;
      })),
    ];

    const killedAt = performance.now();
    child.kill('SIGKILL');
    await waitFor(
      'every Chromium process of the child to exit',
      () => tree.every((pid) => !isAlive(pid)),
      5000,
    );
    measured.nodeParentSigkillToChromiumGoneMs = Math.round(performance.now() - killedAt);
    // A helper Chromium started after the tree was listed dies with it too (on a loaded
    // machine it may take a moment longer): none may be left using the profile.
    await waitFor('no Chromium left on the profile', () => chromiumsUsing(dir).length === 0, 5000);
    expect(chromiumsUsing(dir)).toEqual([]);
  });

  describe('clearStaleSingletonLock', () => {
    /** Launches, then SIGKILLs the whole browser tree, leaving the profile's lock behind. */
    const crashIn = async (dir: string): Promise<number> => {
      const { pid } = await launch(dir);
      const tree = [pid, ...descendantPids(pid)];
      process.kill(pid, 'SIGKILL');
      killProcessTree(pid);
      await waitFor('the killed tree to exit', () => tree.every((p) => !isAlive(p)), 5000);
      return pid;
    };

    it('removes the lock of a SIGKILLed browser, and the profile opens again', async () => {
      const dir = tempDir('wa-profile-');
      const pid = await crashIn(dir);
      expect(lstatSync(join(dir, 'SingletonLock')).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(dir, 'SingletonLock'))).toBe(`${hostname()}-${pid}`);

      expect(clearStaleSingletonLock(dir)).toEqual({
        removed: true,
        holder: `${hostname()}-${pid}`,
      });
      expect(readdirSync(dir).filter((f) => f.startsWith('Singleton'))).toEqual([]);

      const again = await launch(dir);
      await again.page.goto('data:text/html,<p id="p">again</p>');
      expect(await again.page.$eval('#p', (el) => el.textContent)).toBe('again');
    });

    it('removes the lock of another host (a previous container), which Chromium itself refuses', async () => {
      const dir = tempDir('wa-profile-');
      await crashIn(dir);
      unlinkSync(join(dir, 'SingletonLock'));
      symlinkSync('previous-container-4242', join(dir, 'SingletonLock'));

      await expect(launch(dir)).rejects.toThrow();

      expect(clearStaleSingletonLock(dir)).toEqual({
        removed: true,
        holder: 'previous-container-4242',
      });
      const again = await launch(dir);
      await again.page.goto('data:text/html,<p id="p">again</p>');
      expect(await again.page.$eval('#p', (el) => el.textContent)).toBe('again');
    });

    it('keeps the lock of a live browser', async () => {
      const dir = tempDir('wa-profile-');
      const { page, pid } = await launch(dir);
      expect(clearStaleSingletonLock(dir)).toEqual({
        removed: false,
        holder: `${hostname()}-${pid}`,
      });
      expect(readlinkSync(join(dir, 'SingletonLock'))).toBe(`${hostname()}-${pid}`);
      expect(lstatSync(join(dir, 'SingletonSocket')).isSymbolicLink()).toBe(true);
      // And the live browser is untouched.
      await page.goto('data:text/html,<p id="p">still here</p>');
      expect(await page.$eval('#p', (el) => el.textContent)).toBe('still here');
    });
  });
});

/** Pids of processes started with `--user-data-dir=<dir>`: a safety net for cleanup. */
function chromiumsUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (
        readFileSync(`/proc/${entry}/cmdline`, 'utf8')
          .split('\0')
          .includes(`--user-data-dir=${dir}`)
      ) {
        if (isAlive(Number(entry))) pids.push(Number(entry));
      }
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
