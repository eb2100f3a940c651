import { SessionErrorCode, type SessionDriverError } from '@app/session';

/**
 * The steps of recovery, mildest first. Each failed try moves one step up:
 * 1. `recheck`: ask the session again; a transient TIMEOUT / OPENING state often clears.
 * 2. `restart-client`: restart the WhatsApp client in the same browser and profile.
 * 3. `relaunch`: kill the browser and launch a new one with the saved auth.
 * After RECOVERY_MAX_ATTEMPTS tries the session is `failed` (its messages stay queued).
 */
export type RecoveryStep = 'recheck' | 'restart-client' | 'relaunch';

const NEXT: Record<RecoveryStep, RecoveryStep> = {
  recheck: 'restart-client',
  'restart-client': 'relaunch',
  relaunch: 'relaunch',
};

export function nextStep(step: RecoveryStep): RecoveryStep {
  return NEXT[step];
}

/**
 * Losses where nothing short of a relaunch helps: the browser is gone, or the page did not
 * answer a probe at all (a renderer that does not answer cannot run a reload either: measured
 * on the WhatsApp Web emulator with the real whatsapp-web.js, the reload of a frozen page waits
 * out WWEBJS_START_TIMEOUT_MS before the relaunch that then works in about 2 s).
 */
const RELAUNCH_FIRST: ReadonlySet<string> = new Set<string>([
  SessionErrorCode.BrowserCrashed,
  SessionErrorCode.DriverUnavailable,
  'HEALTH_CHECK_TIMEOUT',
]);

/** Where recovery starts depends on what was lost: no point re-checking a dead browser. */
export function firstStep(cause: SessionDriverError): RecoveryStep {
  const code: string = cause.code;
  if (RELAUNCH_FIRST.has(code)) return 'relaunch';
  // The page answered with a passing state (TIMEOUT, OPENING): ask again.
  if (code === 'HEALTH_CHECK_FAILED') return 'recheck';
  // A closed page, a detached frame, a renderer crash, a conflict, a hung send: the browser
  // still runs, a new page is enough.
  return 'restart-client';
}

/**
 * Account signals are a circuit breaker, not a retry loop: restarting would not help and
 * hammering WhatsApp after a ban or an unlink makes things worse.
 */
export const ACCOUNT_SIGNALS: ReadonlySet<string> = new Set([
  'LOGGED_OUT',
  'UNPAIRED',
  'TOS_BLOCK',
  'SMB_TOS_BLOCK',
  'DEPRECATED_VERSION',
]);

/** Wait before try `attempt` (1-based): 0 for the first, then 250 ms doubling to 30 s, ±20 %. */
export function recoveryDelayMs(attempt: number, random = Math.random): number {
  if (attempt <= 1) return 0;
  const base = Math.min(30000, 250 * 2 ** (attempt - 2));
  return Math.round(base * (0.8 + random() * 0.4));
}
