import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Redis } from 'ioredis';
import type { Store } from 'whatsapp-web.js';
import type { RedisKeys } from '@app/core';

/**
 * whatsapp-web.js RemoteAuth store on Redis: one binary STRING per session holding the zip of
 * the browser profile, so another worker can restore the session without a new QR.
 *
 * The `session` argument is not stable across whatsapp-web.js versions:
 * - 1.34.6 `save({ session: path.join(this.dataPath, this.sessionName) })` (absolute) and
 *   writes the zip to `path.join(this.dataPath, `${sessionName}.zip`)`, i.e. `${session}.zip`;
 *   sessionExists/extract/delete get the bare `this.sessionName` even there.
 * - 1.34.7 `save({ session: this.sessionName })` (bare, RemoteAuth.js:141-143) with the zip
 *   still at `path.join(this.dataPath, `${this.sessionName}.zip`)` (RemoteAuth.js:208).
 * - other upstream revisions write it to the process cwd (`${sessionName}.zip`), or to a
 *   `zipDir` that is cwd when writable, else dataPath (wwebjs/whatsapp-web.js@1d37764).
 * Stores that key on the raw argument (wwebjs-mongo, wwebjs-aws-s3) save under one name and look
 * up under another, or read `${session}.zip` from the wrong folder. This store keys on the
 * session id it was built for and only uses `path.basename(session)` to find the zip.
 */
/** The session's lease key and the value it must still hold for this worker to write. */
export interface LeaseFence {
  key: string;
  value: string;
}

/** Fenced backup write: only while the lease is still ours. KEYS: final, pending, lease. */
const FENCED_SAVE_LUA = `
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('RENAME', KEYS[2], KEYS[1])
return 1
`;

export class RedisAuthStore implements Store {
  private readonly dataPath: string;
  private readonly fence?: LeaseFence;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly sessionId: string,
    opts: { dataPath?: string; fence?: LeaseFence } = {},
  ) {
    this.fence = opts.fence;
    // Must equal the RemoteAuth's dataPath; this is RemoteAuth's own default (RemoteAuth.js:57).
    this.dataPath = path.resolve(opts.dataPath ?? './.wwebjs_auth/');
  }

  async sessionExists(_options: { session: string }): Promise<boolean> {
    return (await this.redis.exists(this.keys.wwebjsAuth(this.sessionId))) === 1;
  }

  /**
   * Stores the zip RemoteAuth just wrote. SET the pending key and RENAME it over the final key
   * inside one MULTI: the final key flips from the whole old zip to the whole new one, never a
   * part; a transfer cut off midway never reaches EXEC, so the previous backup stays; and unlike
   * a separate SET + RENAME no orphaned pending value (megabytes) can be left behind, nor a TTL
   * that RENAME would carry over. Both keys share the `{sessionId}` hash tag: one cluster slot.
   */
  async save(options: { session: string }): Promise<void> {
    const zip = await this.findZip(options.session);
    const data = await readFile(zip);
    // An empty file is a failed write, never a profile (an empty zip is 22 bytes): keep the old one.
    if (data.length === 0) throw new Error(`RemoteAuth zip ${zip} is empty; backup not replaced`);
    const pending = this.keys.wwebjsAuthPending(this.sessionId);
    if (this.fence) {
      // Fencing: a worker that lost the session's lease (frozen, then woken) must not overwrite
      // the new owner's backup with its stale profile. Same hash tag: one atomic script.
      const ok = await this.redis.eval(
        FENCED_SAVE_LUA,
        3,
        this.keys.wwebjsAuth(this.sessionId),
        pending,
        this.fence.key,
        data,
        this.fence.value,
      );
      if (ok !== 1)
        throw new Error(`lease of session ${this.sessionId} is no longer ours; backup not written`);
      return;
    }
    const results = await this.redis
      .multi()
      .set(pending, data)
      .rename(pending, this.keys.wwebjsAuth(this.sessionId))
      .exec();
    if (!results) throw new Error('Backup transaction was aborted');
    for (const [err] of results) if (err) throw err;
  }

  /** Writes the backup to `path` (RemoteAuth then unzips and deletes that file). */
  async extract(options: { session: string; path: string }): Promise<void> {
    const data = await this.redis.getBuffer(this.keys.wwebjsAuth(this.sessionId));
    // RemoteAuth only calls extract after sessionExists(); a delete in between must not leave
    // an empty file for unzipper to choke on.
    if (!data) throw new Error(`No RemoteAuth backup in Redis for session ${this.sessionId}`);
    // RemoteAuth writes here without creating the folder (RemoteAuth.js:165-185): on a worker
    // that never ran this session, dataPath does not exist yet, and the hand-over would fail.
    await mkdir(path.dirname(path.resolve(options.path)), { recursive: true });
    await writeFile(options.path, data);
  }

  async delete(_options: { session: string }): Promise<void> {
    await this.redis.del(
      this.keys.wwebjsAuth(this.sessionId),
      this.keys.wwebjsAuthPending(this.sessionId),
    );
  }

  /**
   * Where RemoteAuth left `${basename(session)}.zip` (see the class comment). Several may exist
   * (a stale one from a crash in another layout): the one just written is the newest.
   */
  private async findZip(session: string): Promise<string> {
    const file = `${path.basename(session)}.zip`;
    const candidates = new Set<string>();
    if (path.isAbsolute(session)) candidates.add(`${session}.zip`);
    candidates.add(path.join(this.dataPath, file));
    candidates.add(path.resolve(file));
    let best: { file: string; mtimeMs: number } | null = null;
    for (const candidate of candidates) {
      const st = await stat(candidate).catch(() => null);
      if (st?.isFile() && (!best || st.mtimeMs > best.mtimeMs)) {
        best = { file: candidate, mtimeMs: st.mtimeMs };
      }
    }
    if (!best) throw new Error(`RemoteAuth zip not found; looked at ${[...candidates].join(', ')}`);
    return best.file;
  }
}
