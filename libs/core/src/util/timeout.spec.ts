import { TimeoutError, withTimeout } from './timeout';

/** A promise settled from outside, to decide which side wins. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('withTimeout', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('settles like the promise when it settles first, and removes its timer', async () => {
    const d = deferred<string>();
    const bounded = withTimeout(d.promise, 1000);
    d.resolve('done');
    await expect(bounded).resolves.toBe('done');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('passes a rejection through as it came (wwebjs rejects with strings)', async () => {
    const d = deferred<string>();
    const bounded = withTimeout(d.promise, 1000);
    d.reject('auth timeout');
    await expect(bounded).rejects.toBe('auth timeout');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('rejects with a TimeoutError once the time has passed', async () => {
    const bounded = withTimeout(new Promise<never>(() => undefined), 1000);
    jest.advanceTimersByTime(999);
    let settled = false;
    void bounded.catch(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    jest.advanceTimersByTime(1);
    await expect(bounded).rejects.toBeInstanceOf(TimeoutError);
    await expect(bounded).rejects.toThrow('timed out after 1000 ms');
  });

  it("rejects with the caller's error when it names one", async () => {
    const bounded = withTimeout(new Promise<never>(() => undefined), 50, () => new Error('mine'));
    jest.advanceTimersByTime(50);
    await expect(bounded).rejects.toThrow('mine');
  });

  it('ignores a late outcome of the promise', async () => {
    const d = deferred<string>();
    const bounded = withTimeout(d.promise, { ms: 10 });
    jest.advanceTimersByTime(10);
    d.resolve('late');
    await expect(bounded).rejects.toBeInstanceOf(TimeoutError);
  });

  it('rejects as soon as the signal aborts, and removes its listener either way', async () => {
    const controller = new AbortController();
    const d = deferred<string>();
    const bounded = withTimeout(d.promise, { signal: controller.signal });
    controller.abort();
    await expect(bounded).rejects.toThrow('aborted');

    const kept = new AbortController();
    const remove = jest.spyOn(kept.signal, 'removeEventListener');
    const ok = withTimeout(Promise.resolve(1), { signal: kept.signal, ms: 100 });
    await expect(ok).resolves.toBe(1);
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function));
    expect(jest.getTimerCount()).toBe(0);
  });

  it('refuses at once for a signal that has aborted already', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(withTimeout(Promise.resolve(1), { signal: controller.signal })).rejects.toThrow(
      'aborted',
    );
  });

  it('returns the promise itself when there is neither a deadline nor a signal', () => {
    const p = Promise.resolve(1);
    expect(withTimeout(p, {})).toBe(p);
  });
});
