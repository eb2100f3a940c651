import {
  RemoteAuthBase,
  type AuthStrategyClient,
  type RemoteAuthOptions,
} from './remote-auth-internals';

/** The only disconnect reasons after which the linked device is really gone. */
const DEVICE_GONE = new Set(['LOGOUT', 'UNPAIRED']);

/** RemoteAuth.afterAuthReady's wait before the first backup, "for session to be stable enough to recover". */
const FIRST_BACKUP_DELAY_MS = 60000;

export interface GuardedRemoteAuthOptions extends RemoteAuthOptions {
  /** A periodic backup failed (RemoteAuth would leave an unhandled rejection). */
  onBackupError?: (err: unknown) => void;
}

/**
 * RemoteAuth that deletes the Redis backup and the local profile only when the device was
 * logged out (LOGOUT) or unpaired (UNPAIRED), so that after any other disconnect (CONFLICT,
 * TIMEOUT, DEPRECATED_VERSION, TOS_BLOCK, a crash) the session comes back, here or on another
 * worker, without a QR.
 *
 * Upstream (whatsapp-web.js 1.34.7, unchanged from 1.34.6):
 * - Client.js:822-853, the page's onAppStateChangedEvent: `this.emit('change_state', state)`,
 *   then for any state outside CONNECTED/OPENING/PAIRING/TIMEOUT (+CONFLICT with
 *   takeoverOnConflict) `await this.authStrategy.disconnect()` with NO reason, and only then
 *   `this.emit('disconnected', state)`.
 * - RemoteAuth.js:102-116 disconnect() always runs deleteRemoteSession() and rm(userDataDir).
 * So a CONFLICT (e.g. the new worker taking the session over) would delete the backup the new
 * worker just restored from. The `disconnected` event comes too late to decide, so we remember
 * the `change_state` emitted synchronously just before disconnect() is called.
 * - Real logouts go through logout(): Client.logout() (Client.js:1302) and the post_logout
 *   navigation (Client.js:497-500, which emits 'disconnected' 'LOGOUT' first). RemoteAuth.logout()
 *   calls this.disconnect(), which we override, so logout() wipes directly.
 */
export class GuardedRemoteAuth extends RemoteAuthBase {
  private lastState: string | null = null;
  /** Bumped on every (re)start and stop of the periodic backup; stale timers/tasks check it. */
  private generation = 0;
  /** Backups run one at a time: two would share RemoteAuth's tempDir and zip file. */
  private saves: Promise<unknown> = Promise.resolve();
  private readonly onBackupError: (err: unknown) => void;

  constructor(options: GuardedRemoteAuthOptions) {
    super(options);
    this.onBackupError = options.onBackupError ?? (() => undefined);
  }

  override setup(client: AuthStrategyClient): void {
    super.setup(client);
    client.on('change_state', (state: unknown) => {
      this.lastState = String(state);
    });
  }

  override async disconnect(): Promise<void> {
    const reason = this.lastState;
    this.lastState = null;
    if (reason !== null && DEVICE_GONE.has(reason)) {
      await this.wipe();
      return;
    }
    // Keep the backup and the profile; stop backing up (the Client destroys itself next).
    this.stopBackups();
  }

  override async logout(): Promise<void> {
    await this.wipe();
  }

  override async destroy(): Promise<void> {
    this.stopBackups();
  }

  /**
   * Replaces RemoteAuth.afterAuthReady (RemoteAuth.js:118-132) for three upstream faults that
   * matter when a session moves between workers: the Client calls it again on every `ready`
   * (each re-inject) and each call adds a setInterval without clearing the previous one, so
   * destroy() stops only the last; a disconnect during the 60 s first-backup delay still arms
   * the timer afterwards; and it is called without await or catch (Client.js:376), so a Redis
   * error becomes an unhandled rejection. A leaked timer on the old worker would keep
   * overwriting the new owner's backup with a stale profile.
   */
  override async afterAuthReady(): Promise<void> {
    const generation = this.stopBackups();
    try {
      const exists = await this.store.sessionExists({ session: this.sessionName ?? '' });
      if (!exists) {
        await this.delay(FIRST_BACKUP_DELAY_MS);
        if (generation !== this.generation) return;
        await this.storeRemoteSession({ emit: true });
      }
      if (generation !== this.generation) return;
      this.backupSync = setInterval(() => {
        this.storeRemoteSession().catch(this.onBackupError);
      }, this.backupSyncIntervalMs);
    } catch (err) {
      this.onBackupError(err);
    }
  }

  override storeRemoteSession(options?: { emit?: boolean }): Promise<void> {
    const run = this.saves.then(() => super.storeRemoteSession(options));
    this.saves = run.catch(() => undefined);
    return run;
  }

  /**
   * Backs the profile up now (for a graceful hand-over: best after the browser has closed, so
   * its files are flushed). Resolves false when there is no profile to back up; rejects when
   * the store failed, and then the previous backup is still there.
   */
  async backupNow(): Promise<boolean> {
    if (!this.userDataDir || !(await this.isValidPath(this.userDataDir))) return false;
    await this.storeRemoteSession();
    return true;
  }

  /** The device is gone: RemoteAuth's disconnect (delete the backup, rm the profile). */
  private async wipe(): Promise<void> {
    this.stopBackups();
    // A backup already running would otherwise re-create the key after the delete.
    await this.saves;
    await super.disconnect();
  }

  private stopBackups(): number {
    clearInterval(this.backupSync);
    this.backupSync = undefined;
    return ++this.generation;
  }
}
