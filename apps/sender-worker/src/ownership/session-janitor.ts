import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { MessageQueueService, OutboundQueues } from '@app/queue';
import type { SessionPurger, SessionStore } from '@app/session';

/** What whatsapp-web.js keeps of one session in SESSION_DATA_DIR (LocalAuth, RemoteAuth). */
const PROFILE_ENTRY =
  /^(?:session-|RemoteAuth-|wwebjs_temp_session_)([a-z0-9][a-z0-9_-]{0,63})(?:\.zip)?$/;

/** A deletion still "cancelling" after this long lost its gateway midway: finish it here. */
const ABANDONED_DELETION_MS = 5 * 60000;

export interface JanitorDeps {
  sessions: SessionStore;
  purger: SessionPurger;
  queues: OutboundQueues;
  producer: MessageQueueService;
  /** This worker's own profile folder (SESSION_DATA_DIR/<host>). */
  dataDir: string;
  logger: Logger;
}

/**
 * Removes what deleted sessions leave behind: their data in Redis (purged once no worker runs
 * them), their browser profiles in this worker's folder, and deletions whose gateway or owner
 * died midway. Runs after each deletion this worker stops, at start and periodically.
 */
export class SessionJanitor {
  constructor(private readonly deps: JanitorDeps) {}

  /** This worker stopped a deleted session: its profile goes now, its data once purgeable. */
  async afterDeletion(id: string): Promise<void> {
    this.removeProfile(id);
    const since = await this.deps.sessions.deletion(id);
    // Negative: the gateway is still cancelling its messages; it purges when it is done.
    if (since !== null && since > 0) await this.purge(id);
  }

  /** One pass: unfinished deletions, then profile folders of sessions that no longer exist. */
  async sweep(runningHere: ReadonlySet<string>): Promise<void> {
    const { sessions, logger } = this.deps;
    for (const { id, since } of await sessions.deletions()) {
      if (since < 0 && Date.now() + since > ABANDONED_DELETION_MS) {
        logger.warn({ sessionId: id }, 'finishing a deletion its gateway left midway');
        await this.deps.queues.get(id).pause();
        await sessions.remove(id);
        await this.deps.producer.clear(id);
        await sessions.markDeleted(id);
      } else if (since < 0) continue;
      await this.purge(id);
    }
    const entries = this.profileEntries();
    const registered = new Set(await sessions.ids());
    for (const [name, id] of entries) {
      if (registered.has(id) || runningHere.has(id)) continue;
      rmSync(join(this.deps.dataDir, name), { recursive: true, force: true });
      logger.info({ sessionId: id, entry: name }, 'removed the profile of a deleted session');
    }
  }

  removeProfile(id: string): void {
    for (const [name, of] of this.profileEntries()) {
      if (of === id) rmSync(join(this.deps.dataDir, name), { recursive: true, force: true });
    }
  }

  private async purge(id: string): Promise<void> {
    const outcome = await this.deps.purger.purge(id);
    // 'owned': a worker still runs it and purges after its stop (or its lease lapses first).
    if (outcome === 'owned') return;
    await this.deps.sessions.forgetDeletion(id);
    if (outcome === 'purged') this.deps.logger.info({ sessionId: id }, 'deleted session purged');
  }

  private profileEntries(): [string, string][] {
    let names: string[];
    try {
      names = readdirSync(this.deps.dataDir);
    } catch {
      return []; // no folder yet: no profiles
    }
    const out: [string, string][] = [];
    for (const name of names) {
      const m = PROFILE_ENTRY.exec(name);
      if (m) out.push([name, m[1]]);
    }
    return out;
  }
}
