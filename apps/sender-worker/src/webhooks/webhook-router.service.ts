import { InjectQueue } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  createRedis,
  EventLog,
  LOGGER,
  REDIS,
  RedisKeys,
  redisTarget,
  type GatewayEvent,
} from '@app/core';
import {
  deliveryIdOf,
  WEBHOOKS_QUEUE,
  WebhookJobName,
  webhookJobOptions,
  type WebhookJob,
} from '@app/queue';
import type { WebhookConfig } from '@app/session';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { WebhookEndpoints } from './webhook-endpoints';

/** The consumer group every worker's router joins. RENAMING IT RE-ROUTES THE WHOLE STREAM. */
export const WEBHOOK_ROUTER_GROUP = 'webhooks';

/** Entries read (or claimed) at a time. */
const BATCH = 100;
/** How long one XREADGROUP blocks: also how long a stop may wait for the loop. */
const BLOCK_MS = 2000;
/** Entries a dead router read but never acknowledged are taken over after this long. */
export const ROUTER_CLAIM_IDLE_MS = 30_000;
/** How often a router looks for such entries. */
const CLAIM_EVERY_MS = 10_000;
/**
 * After a read that was not a full batch, wait this long before the next one, so that while
 * messages are sent (five events each) the router reads, looks up and acknowledges events in
 * batches, not one by one (three commands per event: measured, a fifth of a drain's Redis
 * commands). The first event after a quiet spell is still routed at once; the ones right
 * behind it wait at most this long. Delivery guarantees are untouched (the same read, route,
 * acknowledge cycle, only less often).
 */
const ROUTE_LINGER_MS = 25;
/** Pause after a Redis error before reading again. */
const ERROR_PAUSE_MS = 1000;

type StreamEntry = [id: string, fields: string[] | null];

/**
 * Routes the event stream to the webhooks queue. Every worker's router is one consumer of one
 * consumer group (created from the stream's start, so events recorded before any worker ran are
 * routed), reading with XREADGROUP BLOCK on a connection of its own: each entry goes to one
 * router, which adds one delivery job per endpoint (job id = delivery id: re-routing an entry
 * after a crash adds nothing) and only then acknowledges it. Entries a dead router read and did
 * not acknowledge are claimed (XAUTOCLAIM) by the others after {@link ROUTER_CLAIM_IDLE_MS}.
 */
@Injectable()
export class WebhookRouterService implements OnApplicationBootstrap, OnModuleDestroy {
  private reader: Redis | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly logger: Logger;
  private readonly attempts: number;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly endpoints: WebhookEndpoints,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<WebhookJob>,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ component: 'webhook-router' });
    this.attempts = config.webhooks.retryScheduleMs.length + 1;
    this.queue.on('error', (err) => this.logger.debug({ err }, 'webhooks queue error'));
  }

  async onApplicationBootstrap(): Promise<void> {
    this.reader = createRedis(
      redisTarget(this.config),
      'worker',
      `worker-webhook-router:${this.config.workerId}`,
    );
    this.reader.on('error', () => undefined);
    await ensureRouterGroup(this.redis, this.keys);
    this.running = true;
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.running = false;
    // Ends a blocked XREADGROUP at once; what it read and did not acknowledge is re-read.
    this.reader?.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    // Entries this consumer (same WORKER_ID) read before a restart, then new ones.
    let backlog = true;
    let nextClaim = 0;
    while (this.running) {
      try {
        if (Date.now() >= nextClaim) {
          await this.claimStale();
          nextClaim = Date.now() + CLAIM_EVERY_MS;
        }
        const entries = await this.read(backlog ? '0' : '>');
        if (backlog && entries.length === 0) backlog = false;
        if (entries.length) await this.route(entries);
        if (!backlog && entries.length > 0 && entries.length < BATCH)
          await new Promise((r) => setTimeout(r, ROUTE_LINGER_MS));
      } catch (err) {
        if (!this.running) return;
        // What this consumer read and did not acknowledge is read again first.
        backlog = true;
        if (String((err as Error).message).includes('NOGROUP')) {
          await ensureRouterGroup(this.redis, this.keys).catch(() => undefined);
        } else {
          this.logger.warn({ err }, 'webhook routing failed; retrying');
        }
        await new Promise((r) => setTimeout(r, ERROR_PAUSE_MS));
      }
    }
  }

  private async read(from: '0' | '>'): Promise<StreamEntry[]> {
    const args: (string | number)[] = ['GROUP', WEBHOOK_ROUTER_GROUP, this.config.workerId];
    args.push('COUNT', BATCH);
    if (from === '>') args.push('BLOCK', BLOCK_MS);
    args.push('STREAMS', this.keys.eventStream(), from);
    const reply = (await this.reader!.call('XREADGROUP', ...args)) as unknown[] | null;
    return entriesOf(reply);
  }

  /** Takes over entries other (dead) routers read and never acknowledged. */
  private async claimStale(): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await this.redis.call(
        'XAUTOCLAIM',
        this.keys.eventStream(),
        WEBHOOK_ROUTER_GROUP,
        this.config.workerId,
        ROUTER_CLAIM_IDLE_MS,
        cursor,
        'COUNT',
        BATCH,
      )) as [string, StreamEntry[], string[]];
      if (entries.length) {
        this.logger.info({ entries: entries.length }, 'claimed events a dead router left');
        await this.route(entries);
      }
      cursor = next;
    } while (cursor !== '0-0' && this.running);
  }

  /** One delivery job per endpoint of each entry, then the acknowledgement. */
  private async route(entries: StreamEntry[]): Promise<void> {
    const webhooks = new Map<string, Promise<WebhookConfig | null>>();
    const jobs: { name: string; data: WebhookJob; opts: ReturnType<typeof webhookJobOptions> }[] =
      [];
    for (const [position, fields] of entries) {
      const event = parseEvent(position, fields);
      if (!event) {
        if (fields) this.logger.error({ position }, 'unreadable event in the stream: skipped');
        continue;
      }
      let webhook = webhooks.get(event.session);
      if (!webhook) {
        webhook = this.endpoints.sessionWebhook(event.session);
        webhooks.set(event.session, webhook);
      }
      for (const endpoint of this.endpoints.routeOf(event, await webhook)) {
        const deliveryId = deliveryIdOf(event.id, endpoint.kind);
        jobs.push({
          name: WebhookJobName.Deliver,
          data: { deliveryId, event, endpoint },
          opts: { ...webhookJobOptions(this.attempts), jobId: deliveryId },
        });
      }
    }
    if (jobs.length) await this.queue.addBulk(jobs);
    await this.redis.xack(
      this.keys.eventStream(),
      WEBHOOK_ROUTER_GROUP,
      ...entries.map(([position]) => position),
    );
  }
}

/**
 * Creates the router group if it does not exist: from the stream's first entry (`0`), so the
 * events recorded before any worker ran are routed too; MKSTREAM, since no event may exist yet.
 */
export async function ensureRouterGroup(redis: Redis, keys: RedisKeys): Promise<void> {
  try {
    await redis.xgroup('CREATE', keys.eventStream(), WEBHOOK_ROUTER_GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
  }
}

/**
 * The entries of a one-stream XREADGROUP reply: RESP2 gives `[[key, entries]]`, RESP3 (a map)
 * comes out of ioredis's `call` flattened to `[key, entries]`.
 */
function entriesOf(reply: unknown[] | null): StreamEntry[] {
  if (!reply || reply.length === 0) return [];
  if (typeof reply[0] === 'string') return (reply[1] as StreamEntry[] | undefined) ?? [];
  return (reply[0] as [string, StreamEntry[]] | undefined)?.[1] ?? [];
}

/** The event of a stream entry; null for an entry trimmed away (XAUTOCLAIM, a re-read) or junk. */
function parseEvent(position: string, fields: string[] | null): GatewayEvent | null {
  if (!fields) return null;
  try {
    return EventLog.parseEntry([position, fields]).event;
  } catch {
    return null;
  }
}
