export const SESSION_STATUSES = [
  'starting',
  'qr',
  'authenticating',
  'ready',
  'recovering',
  'disconnected',
  'logged_out',
  'failed',
  'stopped',
] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export const DRIVER_NAMES = ['wwebjs', 'simulator'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/** Per-account pacing: the anti-ban budget of one WhatsApp number. */
export interface RateLimit {
  /** At most this many messages in any 60 s; 0 = no per-minute cap. */
  perMinute: number;
  /** Random pause between two messages, drawn in [minDelayMs, maxDelayMs]. */
  minDelayMs: number;
  maxDelayMs: number;
}

/** One message every 1–3 s and at most 20 a minute (contract default). */
export const DEFAULT_RATE_LIMIT: RateLimit = { perMinute: 20, minDelayMs: 1000, maxDelayMs: 3000 };

export function isUnpaced(rate: RateLimit): boolean {
  return rate.perMinute === 0 && rate.maxDelayMs === 0;
}

export interface WebhookConfig {
  url: string;
  secret?: string;
  events?: string[];
}

/** How the simulator behaves for one session (all optional in the API). */
export interface SimulatorOptions {
  /** Time from start (or a logout) until the simulated owner scans the QR. */
  linkAfterMs: number;
  /** The simulated account's phone number. */
  phone: string;
  /** Time one send takes. */
  sendLatencyMs: number;
  /** Time from sent to the `delivered` ack; -1 = never. */
  deliveredAfterMs: number;
  /** Time from sent to the `read` ack; -1 = never. */
  readAfterMs: number;
  /** Numbers (digits) the simulator says are not on WhatsApp. */
  notOnWhatsApp: string[];
}

export const DEFAULT_SIMULATOR_OPTIONS: SimulatorOptions = {
  linkAfterMs: 300,
  phone: '15550000000',
  sendLatencyMs: 20,
  deliveredAfterMs: 200,
  readAfterMs: 1000,
  notOnWhatsApp: [],
};

/** What the API stores when a session is created. */
export interface SessionConfig {
  id: string;
  driver: DriverName;
  rateLimit: RateLimit;
  webhook: WebhookConfig | null;
  simulator: SimulatorOptions | null;
  createdAt: string;
}

export interface SessionError {
  code: string;
  message: string;
  at: string;
}

export interface SessionHealth {
  healthy: boolean;
  lastCheckAt: string | null;
  recoveries: number;
}

/** What the owning worker reports about a session. */
export interface SessionState {
  status: SessionStatus;
  phone: string | null;
  health: SessionHealth;
  lastError: SessionError | null;
  /** The QR payload while status is `qr`. */
  qr: string | null;
  restartInProgress: boolean;
  /** RSS of the session's browser process tree at the last probe (MB); null without one. */
  memoryMb?: number | null;
  updatedAt: string | null;
}

export const INITIAL_SESSION_STATE: SessionState = {
  status: 'starting',
  phone: null,
  health: { healthy: false, lastCheckAt: null, recoveries: 0 },
  lastError: null,
  qr: null,
  restartInProgress: false,
  memoryMb: null,
  updatedAt: null,
};

export type FaultType =
  | 'browser-crash'
  | 'frame-detached'
  | 'session-closed'
  | 'conflict'
  | 'logout'
  | 'hang'
  | 'memory-pressure';

export const FAULT_TYPES: readonly FaultType[] = [
  'browser-crash',
  'frame-detached',
  'session-closed',
  'conflict',
  'logout',
  'hang',
  'memory-pressure',
];

export interface Fault {
  type: FaultType;
  durationMs?: number;
}
