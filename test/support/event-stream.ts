import type { Redis } from 'ioredis';
import { EventLog, type GatewayEvent, type RedisKeys } from '@app/core';

/** Every event in a prefix's event stream, oldest first (tests read the durable log itself). */
export async function readEvents(redis: Redis, keys: RedisKeys): Promise<GatewayEvent[]> {
  const log = new EventLog(redis, keys);
  const out: GatewayEvent[] = [];
  let position = '0';
  for (;;) {
    const page = await log.after(position, 1000);
    out.push(...page.map((p) => p.event));
    if (page.length < 1000) return out;
    position = page[page.length - 1].position;
  }
}
