import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys } from '@app/core';

export interface WorkerView {
  id: string;
  pid: number | null;
  sessions: string[];
  maxSessions: number;
  /** The worker's own Node memory and its sessions' browsers, in MB. */
  memory: { workerMb: number; browsersMb: number };
  heartbeatAt: string;
}

/**
 * Live workers, from their heartbeats. A worker's record expires two lease periods after its
 * last heartbeat, so a dead worker drops out by itself; stale ids are pruned from the index.
 */
@Injectable()
export class WorkersService {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async live(): Promise<WorkerView[]> {
    const ids = await this.redis.zrange(this.keys.workers(), '0', '-1');
    if (ids.length === 0) return [];
    const rows = await Promise.all(ids.map((id) => this.redis.hgetall(this.keys.worker(id))));
    const dead = ids.filter((_, i) => !rows[i]?.id);
    if (dead.length) await this.redis.zrem(this.keys.workers(), ...dead);
    return rows
      .filter((h) => h?.id)
      .map((h) => ({
        id: h.id,
        pid: h.pid ? Number(h.pid) : null,
        sessions: JSON.parse(h.sessions ?? '[]') as string[],
        maxSessions: Number(h.maxSessions ?? 0),
        memory: { workerMb: Number(h.rssMb ?? 0), browsersMb: Number(h.browsersMb ?? 0) },
        heartbeatAt: h.heartbeatAt,
      }));
  }
}
