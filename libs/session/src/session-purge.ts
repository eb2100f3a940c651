import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/core';
import { webhookEndpointKey } from '@app/queue';

/**
 * Deletes the given keys only while the session is neither registered (re-created under the
 * same id) nor run by a worker (its lease). Every key shares the session's `{hash tag}`, so this
 * is one atomic step on one Redis Cluster slot.
 * KEYS: session, lease, then the keys to delete. Returns -1 / -2 when refused, else how many.
 */
const PURGE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
local n = 0
for i = 3, #KEYS do n = n + redis.call('DEL', KEYS[i]) end
return n
`;

export type PurgeOutcome = 'purged' | 'recreated' | 'owned';

type NodesClient = { nodes(role: 'master'): Redis[] };

/**
 * Removes everything Redis holds for a deleted session, message records apart (they keep their
 * final status for MESSAGE_RETENTION_DAYS): its BullMQ queue (jobs with their payloads; the same
 * as `obliterate({force: true})` once no worker consumes it), every `session:{id}:*` key (pacing,
 * WhatsApp id index, number-check cache, lease counter), the simulator's device and outbox, and
 * the whatsapp-web.js login backup, its index of webhook dead letters (the letters themselves
 * expire), and the disabled mark of its webhook endpoint. Without the backup and the device a re-created id starts
 * with a new QR instead of silently re-linking the old account.
 */
export class SessionPurger {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async purge(id: string): Promise<PurgeOutcome> {
    const found = await this.keysOf(id);
    const result = (await this.redis.eval(
      PURGE_LUA,
      2 + found.length,
      this.keys.session(id),
      this.keys.lease(id),
      ...found,
    )) as number;
    if (result === -1) return 'recreated';
    if (result === -2) return 'owned';
    // Outside the session's slot: a 410 its webhook endpoint answered must not disable the
    // endpoint of a new session created later under the same id.
    await this.redis.hdel(this.keys.webhookDisabled(), webhookEndpointKey('session', id));
    return 'purged';
  }

  /**
   * Forgets the link of a device whose whole link lives in Redis (the simulator's device), so
   * the session can no longer send as that account: what `DELETE …?logout=true` does when no
   * running client could unlink it. A whatsapp-web.js link lives on WhatsApp's servers too,
   * and only a connected client can end that: its login backup goes with {@link purge}.
   */
  async forgetLinkedDevice(id: string): Promise<void> {
    await this.redis.del(this.keys.simulatorDevice(id));
  }

  /**
   * Every key whose hash tag is the session's: `<prefix>:…{<id>}…`. Found by SCAN (a delete is
   * rare; nothing lists the per-job and per-chat keys), on every master of a Redis Cluster.
   */
  async keysOf(id: string): Promise<string[]> {
    const pattern = `${escapeGlob(this.keys.prefix)}:*{${escapeGlob(id)}}*`;
    const nodes =
      typeof (this.redis as unknown as Partial<NodesClient>).nodes === 'function'
        ? (this.redis as unknown as NodesClient).nodes('master')
        : [this.redis];
    const found = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        for (const key of batch)
          if (hashTag(key.slice(this.keys.prefix.length)) === id) found.add(key);
        cursor = next;
      } while (cursor !== '0');
    }
    return [...found];
  }
}

/** Redis Cluster's hash tag: what lies between the first `{` and the next `}`. */
function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
