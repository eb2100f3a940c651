import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisDurabilityWarnings, type RedisKeys } from '@app/core';
import { MessageQueueService } from '@app/queue';
import { SessionPurger, type SessionStore } from '@app/session';
import type { WorkerConfig } from '../config/worker.config';
import { SessionRuntime, type RuntimeDeps } from '../supervision/session-runtime';
import { SessionJanitor } from './session-janitor';
import { RUNTIME_DEPS } from '../supervision/supervision.module';

/** How often a worker looks for profile folders and data of deleted sessions. */
const JANITOR_INTERVAL_MS = 60000;

/** A session this worker is stopping, beside the lease loop. */
interface Stopping {
  rt: SessionRuntime;
  /** The stop hands the lease back at its end: keep it renewed until then. */
  release: boolean;
  done: Promise<void>;
}

/**
 * Which sessions this worker runs. Every lease period/3 it renews its leases (a lease it lost
 * stops the session here at once), drops sessions deleted through the API, and claims sessions
 * nobody owns, up to WORKER_MAX_SESSIONS.
 */
@Injectable()
export class SessionOwnershipService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly runtimes = new Map<string, SessionRuntime>();
  private timer: NodeJS.Timeout | null = null;
  private cycle: Promise<void> = Promise.resolve();
  private shuttingDown = false;
  /** Sessions this worker handed over, and until when it leaves them to others. */
  private readonly handedOver = new Map<string, number>();
  private readonly deps: RuntimeDeps;
  /**
   * Stops run beside the lease loop, never inside it: one stop can take SHUTDOWN_GRACE_MS plus
   * a browser's teardown, longer than a lease, and the worker's other sessions must not lapse
   * meanwhile. Awaited at shutdown.
   */
  private readonly stops = new Map<string, Stopping>();
  private readonly janitor: SessionJanitor;
  private janitorTimer: NodeJS.Timeout | null = null;
  private janitorRun: Promise<void> = Promise.resolve();

  private readonly config: WorkerConfig;
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly sessions: SessionStore;
  private readonly logger: Logger;

  constructor(@Inject(RUNTIME_DEPS) deps: RuntimeDeps, producer: MessageQueueService) {
    this.deps = deps;
    const { config, redis, keys, sessions, queues, logger } = deps;
    this.config = config;
    this.redis = redis;
    this.keys = keys;
    this.sessions = sessions;
    this.logger = logger;
    this.janitor = new SessionJanitor({
      sessions,
      purger: new SessionPurger(redis, keys),
      queues,
      producer,
      dataDir: config.wwebjs.sessionDataDir,
      logger,
    });
  }

  onApplicationBootstrap(): void {
    this.logger.info(
      { workerId: this.config.workerId, maxSessions: this.config.maxSessions },
      'sender worker started',
    );
    void redisDurabilityWarnings(this.redis).then((warnings) => {
      for (const w of warnings) this.logger.warn({ redis: 'durability' }, w);
    });
    this.schedule(0);
    this.runJanitor();
    this.janitorTimer = setInterval(() => this.runJanitor(), JANITOR_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.janitorTimer) clearInterval(this.janitorTimer);
    await this.cycle;
    await this.janitorRun;
    // Hand every session over at once: pause, let the send in flight finish, release the lease.
    for (const rt of [...this.runtimes.values()]) void this.stopBeside(rt, { release: true });
    await Promise.all([...this.stops.values()].map((s) => s.done));
    await this.redis.zrem(this.keys.workers(), this.config.workerId).catch(() => undefined);
    await this.redis.del(this.keys.worker(this.config.workerId)).catch(() => undefined);
  }

  runtime(sessionId: string): SessionRuntime | undefined {
    return this.runtimes.get(sessionId);
  }

  owned(): SessionRuntime[] {
    return [...this.runtimes.values()];
  }

  /** Stops a session deleted through the API; its data is purged once it has stopped. */
  async stopDeleted(sessionId: string): Promise<boolean> {
    const rt = this.runtimes.get(sessionId);
    if (!rt) return false;
    await this.stopBeside(rt, { release: true, userStop: true }, true);
    return true;
  }

  /** Starts a stop beside the loop; the session is no longer run here from this moment. */
  private stopBeside(
    rt: SessionRuntime,
    opts: { release: boolean; userStop?: boolean },
    deleted = false,
  ): Promise<void> {
    const id = rt.sessionId;
    this.runtimes.delete(id);
    const done = rt
      .stop(opts)
      .then(() => (deleted ? this.janitor.afterDeletion(id) : undefined))
      .catch((err: unknown) => this.logger.warn({ sessionId: id, err }, 'session stop failed'))
      .finally(() => this.stops.delete(id));
    this.stops.set(id, { rt, release: opts.release, done });
    return done;
  }

  private runJanitor(): void {
    this.janitorRun = this.janitorRun
      .then(() => this.janitor.sweep(new Set([...this.runtimes.keys(), ...this.stops.keys()])))
      .catch((err: unknown) => this.logger.warn({ err }, 'janitor pass failed'));
  }

  private schedule(delayMs: number): void {
    if (this.shuttingDown) return;
    this.timer = setTimeout(() => {
      this.cycle = this.runCycle()
        .catch((err: unknown) => this.logger.warn({ err }, 'ownership cycle failed'))
        .finally(() => this.schedule(Math.max(200, Math.floor(this.config.sessionLeaseMs / 3))));
    }, delayMs);
  }

  private async runCycle(): Promise<void> {
    await this.heartbeat();
    await this.renewOwned();
    await this.claimUnowned();
    await this.rebalance();
  }

  private async heartbeat(): Promise<void> {
    const now = Date.now();
    await this.redis.multi().zadd(this.keys.workers(), now, this.config.workerId).exec();
    await this.redis
      .multi()
      .hset(this.keys.worker(this.config.workerId), {
        id: this.config.workerId,
        pid: String(process.pid),
        maxSessions: String(this.config.maxSessions),
        sessions: JSON.stringify([...this.runtimes.keys()]),
        rssMb: String(Math.round(process.memoryUsage().rss / 1048576)),
        browsersMb: String(
          [...this.runtimes.values()].reduce((sum, rt) => sum + (rt.memoryMb ?? 0), 0),
        ),
        heartbeatAt: new Date(now).toISOString(),
      })
      .pexpire(this.keys.worker(this.config.workerId), this.config.sessionLeaseMs * 2)
      .exec();
  }

  private async renewOwned(): Promise<void> {
    for (const [id, rt] of [...this.runtimes]) {
      const [renewed, exists] = await Promise.all([
        this.sessions.renew(id, rt.lease, this.config.sessionLeaseMs),
        this.sessions.exists(id),
      ]);
      if (!exists) {
        this.logger.info({ sessionId: id }, 'session was deleted; stopping it');
        void this.stopBeside(rt, { release: true, userStop: false }, true);
      } else if (!renewed) {
        this.logger.warn({ sessionId: id }, 'lease lost; stopping the session here');
        void this.stopBeside(rt, { release: false });
      } else {
        await rt.tick();
      }
    }
    // A graceful stop still holds the lease until it releases it: keep it from lapsing.
    for (const [id, s] of [...this.stops]) {
      if (s.release) await this.sessions.renew(id, s.rt.lease, this.config.sessionLeaseMs);
    }
  }

  /**
   * Sessions each live worker with room for more runs, from the heartbeats (this worker's own
   * count is exact). A worker silent for a lease period, or full, does not count.
   */
  private async liveLoads(): Promise<Map<string, number>> {
    const ids = await this.redis.zrangebyscore(
      this.keys.workers(),
      Date.now() - this.config.sessionLeaseMs,
      '+inf',
    );
    const rows = await Promise.all(
      ids.map((id) => this.redis.hmget(this.keys.worker(id), 'sessions', 'maxSessions')),
    );
    const loads = new Map<string, number>();
    ids.forEach((id, i) => {
      const [sessions, max] = rows[i] ?? [];
      if (!sessions) return;
      const load = (JSON.parse(sessions) as string[]).length;
      if (load < Number(max ?? Infinity)) loads.set(id, load);
    });
    loads.set(this.config.workerId, this.runtimes.size);
    return loads;
  }

  /**
   * Placement: a worker claims an unowned session only while no live worker runs fewer
   * sessions than it does, so new sessions (and those of a dead worker) go to the least loaded.
   */
  private async claimUnowned(): Promise<void> {
    if (this.runtimes.size >= this.config.maxSessions) return;
    const ids = await this.sessions.ids();
    const owners = await this.sessions.owners(ids);
    const loads = await this.liveLoads();
    const deleting = new Set((await this.sessions.deletions()).map((d) => d.id));
    for (let i = 0; i < ids.length && this.runtimes.size < this.config.maxSessions; i++) {
      if (owners[i] || this.runtimes.has(ids[i]) || this.shuttingDown) continue;
      if (this.stops.has(ids[i]) || deleting.has(ids[i])) continue;
      if (this.handedOver.has(ids[i]) && this.handedOver.get(ids[i])! > Date.now()) continue;
      loads.set(this.config.workerId, this.runtimes.size);
      const least = Math.min(...loads.values());
      if (this.runtimes.size > least) return; // a less loaded worker will take it
      const stored = await this.sessions.get(ids[i]);
      if (!stored) continue;
      const lease = await this.sessions.claim(
        ids[i],
        this.config.workerId,
        this.config.sessionLeaseMs,
      );
      if (!lease) continue;
      this.logger.info({ sessionId: ids[i], token: lease.token }, 'session claimed');
      const rt = new SessionRuntime(this.deps, stored.config, lease, stored.state);
      this.runtimes.set(ids[i], rt);
      await rt.start();
    }
  }

  /**
   * Rebalancing by graceful hand-over, never by stealing a live lease: a worker above its fair
   * share, while another runs fewer than the fair share, releases one session per cycle; the
   * least-loaded worker claims it (and resumes it from the auth store, without a new QR).
   */
  private async rebalance(): Promise<void> {
    if (this.shuttingDown || this.runtimes.size === 0) return;
    const loads = await this.liveLoads();
    const total = [...loads.values()].reduce((a, b) => a + b, 0);
    const fair = Math.ceil(total / loads.size);
    const least = Math.min(...loads.values());
    if (this.runtimes.size <= fair || least >= fair) return;
    // Hand over a session that is not mid-recovery, preferring one that is not ready.
    const candidates = [...this.runtimes.values()].sort(
      (a, b) => Number(a.status === 'ready') - Number(b.status === 'ready'),
    );
    const rt = candidates[0];
    this.logger.info(
      { sessionId: rt.sessionId, load: this.runtimes.size, fair },
      'rebalancing: handing a session over',
    );
    this.handedOver.set(rt.sessionId, Date.now() + 2 * this.config.sessionLeaseMs);
    void this.stopBeside(rt, { release: true });
  }
}
