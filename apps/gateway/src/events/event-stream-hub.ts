import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createRedis, LOGGER, RedisKeys, redisTarget, type GatewayEvent } from '@app/core';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/gateway.config';
import type { HubSubscriber } from './event-stream-client';
import { toStreamEntry } from './stream-entry';

/** CLIENT SETNAME of the hub's connection: one per gateway process, whatever the clients. */
export const EVENT_HUB_CONNECTION_NAME = 'gateway-events';

/**
 * How long one XREAD blocks. It bounds how long the hub keeps reading after its last client
 * left (a blocked read is not cancelled), and costs one round trip per period while quiet.
 */
const BLOCK_MS = 5000;
/** Entries per XREAD: a burst is fanned out in pieces, not held in one reply. */
const READ_COUNT = 500;
/** Pause after a failed read (an error reply; a lost connection is waited out by ioredis). */
const RETRY_AFTER_MS = 1000;

/**
 * Reads the event stream once for the whole gateway and fans each entry out in memory to the
 * open `GET /api/events` clients: 500 streams cost one Redis connection, not 500.
 *
 * It reads only while a client is connected. A run starts where the stream ends (XREAD's `$`,
 * made explicit so clients know where live delivery begins: {@link subscribe}) and goes on from
 * the last position it saw, across Redis restarts (the connection waits outages out and
 * re-sends the blocked read). Delivery never waits: a client that cannot keep up closes itself.
 */
@Injectable()
export class EventStreamHub implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly subscribers = new Set<HubSubscriber>();
  private connection: Redis | null = null;
  /** Whether the read loop runs; changed only synchronously, so no client falls between runs. */
  private reading = false;
  /** The last (or running) read loop, awaited at shutdown. */
  private run: Promise<void> = Promise.resolve();
  /** Resolves once the running loop knows its start position. */
  private started: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly keys: RedisKeys,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  get clients(): number {
    return this.subscribers.size;
  }

  /**
   * Adds a client. The promise resolves once every entry after the current end of the stream
   * is sure to reach it: a client that reads a backlog after this misses nothing in between.
   */
  subscribe(subscriber: HubSubscriber): Promise<void> {
    if (this.stopping) {
      subscriber.close('shutdown');
      return Promise.resolve();
    }
    this.subscribers.add(subscriber);
    if (!this.reading) {
      this.reading = true;
      let markStarted!: () => void;
      this.started = new Promise((resolve) => (markStarted = resolve));
      this.run = this.read(markStarted).catch((err: unknown) => {
        this.reading = false;
        markStarted();
        this.logger.error({ err }, 'event stream hub stopped');
      });
    }
    return this.started;
  }

  unsubscribe(subscriber: HubSubscriber): void {
    this.subscribers.delete(subscriber);
  }

  /** Before the HTTP server closes: open streams would keep it from closing. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const subscriber of [...this.subscribers]) subscriber.close('shutdown');
    this.subscribers.clear();
    // Not QUIT: it would queue behind the blocked XREAD.
    this.connection?.disconnect();
    await this.run;
  }

  onApplicationShutdown(): void {
    this.connection?.disconnect();
  }

  private async read(markStarted: () => void): Promise<void> {
    const redis = this.redis();
    let position: string | null = null;
    while (this.subscribers.size > 0 && !this.stopping) {
      try {
        if (position === null) {
          position = await this.streamEnd(redis);
          markStarted();
          this.logger.debug({ position }, 'event stream hub reading');
          continue;
        }
        const reply: [string, [string, string[]][]][] | null = await redis.xread(
          'COUNT',
          READ_COUNT,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          this.keys.eventStream(),
          position,
        );
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            position = id;
            this.fanOut(id, fields);
          }
        }
      } catch (err) {
        if (this.stopping) break;
        this.logger.warn({ err }, 'event stream read failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS));
      }
    }
    // In the same synchronous step as the last check of the loop: a client that subscribes
    // from here on starts a new run.
    this.reading = false;
    markStarted();
    this.logger.debug({ position }, 'event stream hub idle');
  }

  /** The position of the stream's last entry (`0-0` while empty): where live delivery starts. */
  private async streamEnd(redis: Redis): Promise<string> {
    const last = await redis.xrevrange(this.keys.eventStream(), '+', '-', 'COUNT', 1);
    return last.length > 0 ? last[0][0] : '0-0';
  }

  private fanOut(position: string, fields: string[]): void {
    const json = fieldOf(fields, 'e');
    let entry;
    try {
      entry = toStreamEntry(position, JSON.parse(json ?? '') as GatewayEvent, json);
    } catch {
      this.logger.warn({ position }, 'event stream entry is not an event; skipped');
      return;
    }
    for (const subscriber of this.subscribers) subscriber.deliver(entry);
  }

  /** Made on first use, then kept: reconnecting at every first client would cost more. */
  private redis(): Redis {
    if (!this.connection) {
      // `worker` role: waits a Redis outage out and re-sends the blocked read when back.
      this.connection = createRedis(redisTarget(this.config), 'worker', EVENT_HUB_CONNECTION_NAME);
      this.connection.on('error', (err: Error) =>
        this.logger.debug({ err }, 'event stream hub connection error'),
      );
    }
    return this.connection;
  }
}

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length - 1; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
