import { withTimeout } from '@app/core';
import { SessionDriverError, type ProbeResult, type SessionDriver } from '@app/session';

/** Probe failures in a row that mean the session is lost. */
export const PROBE_FAILURES_LOST = 2;

/**
 * The periodic liveness check of a session (HEALTH_CHECK_INTERVAL_MS): one bounded probe of the
 * driver, and the count of failures in a row that turns a hiccup into a loss.
 */
export class HealthProbe {
  private failures = 0;
  /** When the current run of failures began (null while the probes pass). */
  private failingSince: number | null = null;

  constructor(private readonly timeoutMs: number) {}

  /**
   * One probe, bounded by HEALTH_CHECK_TIMEOUT_MS: whatsapp-web.js's getState() blocks until
   * puppeteer's protocol timeout (180 s) on a frozen page.
   */
  once(driver: SessionDriver): Promise<ProbeResult> {
    return withTimeout(
      driver.probe(),
      this.timeoutMs,
      () =>
        new SessionDriverError(
          'HEALTH_CHECK_TIMEOUT',
          'session',
          'the session did not answer in time',
        ),
    );
  }

  /** One probe that must find WhatsApp `CONNECTED`; rejects otherwise. */
  async connected(driver: SessionDriver): Promise<ProbeResult> {
    const result = await this.once(driver);
    if (result.state !== 'CONNECTED') throw notConnected(result.state);
    return result;
  }

  /** The session answered: the run of failures is over. */
  passed(): void {
    this.failures = 0;
    this.failingSince = null;
  }

  /** The first failure of the current run, if the last probe failed: a loss's first sign. */
  troubleSince(): number | null {
    return this.failingSince;
  }

  /** Counts one failure; returns how many in a row, and whether that means the session is lost. */
  failed(): { failures: number; lost: boolean } {
    this.failures++;
    this.failingSince ??= Date.now();
    return { failures: this.failures, lost: this.failures >= PROBE_FAILURES_LOST };
  }
}

/** The page answered, with a state in which it cannot send (TIMEOUT, OPENING, …). */
export function notConnected(state: string): SessionDriverError {
  return new SessionDriverError('HEALTH_CHECK_FAILED', 'session', `WhatsApp state is ${state}`);
}
