/**
 * The one way this code base bounds a wait: a promise that settles like `promise`, unless a
 * deadline passes or a signal aborts first. The losing timer or listener is always removed, so
 * nothing keeps the process alive or leaks listeners. `promise` itself is not cancelled (no
 * promise can be): it runs on, and its late outcome is ignored.
 */
export interface Deadline {
  /** Give up after this many milliseconds. */
  ms?: number;
  /** Give up as soon as this aborts (rejects with `Error('aborted')`). */
  signal?: AbortSignal;
  /** The error a passed deadline rejects with (default: a {@link TimeoutError}). */
  onTimeout?: () => Error;
}

/** What a passed deadline rejects with, unless the caller names its own error. */
export class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export function withTimeout<T>(promise: Promise<T>, deadline: Deadline): Promise<T>;
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout?: () => Error,
): Promise<T>;
export function withTimeout<T>(
  promise: Promise<T>,
  deadline: Deadline | number,
  onTimeout?: () => Error,
): Promise<T> {
  const {
    ms,
    signal,
    onTimeout: timeoutError,
  } = typeof deadline === 'number' ? { ms: deadline, signal: undefined, onTimeout } : deadline;
  if (ms === undefined && !signal) return promise;
  if (signal?.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      disarm();
      reject(new Error('aborted'));
    };
    const timer =
      ms === undefined
        ? undefined
        : setTimeout(() => {
            disarm();
            reject(timeoutError ? timeoutError() : new TimeoutError(ms));
          }, ms);
    const disarm = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        disarm();
        resolve(value);
      },
      (err: unknown) => {
        disarm();
        // As it came: whatsapp-web.js rejects with strings ('auth timeout') its callers classify.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(err);
      },
    );
  });
}
