import { RemoteAuth, type Store } from 'whatsapp-web.js';

/**
 * Typing shim for whatsapp-web.js's RemoteAuth. Its `index.d.ts` (1.34.7) declares RemoteAuth
 * with only `clientId`, `dataPath` and a constructor, and declares AuthStrategy's hooks as
 * arrow-function *properties* (`setup: (client) => void`), which a subclass cannot override as
 * methods or reach through `super`. The JS class (src/authStrategies/RemoteAuth.js) has the
 * members below; this file describes them for our subclass only, instead of a global
 * `declare module` augmentation that would publish these internals to the whole monorepo.
 * Re-check against RemoteAuth.js whenever whatsapp-web.js is upgraded.
 */

/** What RemoteAuth touches on the Client it is given in `setup()` (BaseAuthStrategy.js). */
export interface AuthStrategyClient {
  /** beforeBrowserInitialized() reads and replaces `options.puppeteer` (sets userDataDir). */
  options: { puppeteer: Record<string, unknown> };
  /** storeRemoteSession({ emit: true }) emits `remote_session_saved`. */
  emit(event: string, ...args: unknown[]): boolean;
  /** GuardedRemoteAuth listens to `change_state` (see there). */
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

export interface RemoteAuthOptions {
  store: Store;
  clientId?: string;
  dataPath?: string;
  /** RemoteAuth throws below 60000. */
  backupSyncIntervalMs: number;
  rmMaxRetries?: number;
}

/** The instance side of RemoteAuth.js 1.34.7, as far as GuardedRemoteAuth uses it. */
export interface RemoteAuthInternals {
  client: AuthStrategyClient;
  store: Store;
  clientId?: string;
  /** path.resolve(dataPath || './.wwebjs_auth/') (RemoteAuth.js:57). */
  dataPath: string;
  /** Set by beforeBrowserInitialized(): `${dataPath}/RemoteAuth-${clientId}`. */
  userDataDir?: string;
  /** Set by beforeBrowserInitialized(): `RemoteAuth-${clientId}`. */
  sessionName?: string;
  backupSync?: ReturnType<typeof setInterval>;
  backupSyncIntervalMs: number;

  setup(client: AuthStrategyClient): void;
  beforeBrowserInitialized(): Promise<void>;
  afterBrowserInitialized(): Promise<void>;
  afterAuthReady(): Promise<void>;
  disconnect(): Promise<void>;
  logout(): Promise<void>;
  destroy(): Promise<void>;
  storeRemoteSession(options?: { emit?: boolean }): Promise<void>;
  deleteRemoteSession(): Promise<void>;
  isValidPath(p: string): Promise<boolean>;
  delay(ms: number): Promise<void>;
}

/** RemoteAuth itself (same class object, so `instanceof RemoteAuth` holds), typed as above. */
export const RemoteAuthBase = RemoteAuth as unknown as new (
  options: RemoteAuthOptions,
) => RemoteAuthInternals;
