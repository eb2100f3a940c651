import {
  MAINTENANCE_QUEUE,
  outboundQueueName,
  PRIORITY,
  SESSION_ID_PATTERN,
  sessionIdOfQueue,
} from './queue.constants';
import { RedisKeys } from '@app/core';

/**
 * The part of a key Redis Cluster hashes: the text between the first `{` and the next `}`,
 * when that is not empty; otherwise the whole key.
 */
function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

const VALID_SESSION_IDS = ['a', 'main', 'shop-01', 'team_sales-2', '0abc', 'x'.repeat(64)];

describe('outboundQueueName / sessionIdOfQueue', () => {
  it.each(VALID_SESSION_IDS)('round-trips the session id %p', (sessionId) => {
    expect(SESSION_ID_PATTERN.test(sessionId)).toBe(true);
    expect(sessionIdOfQueue(outboundQueueName(sessionId))).toBe(sessionId);
  });

  it('names the queue out.{<session>}', () => {
    expect(outboundQueueName('shop-01')).toBe('out.{shop-01}');
  });

  it.each([
    'out.shop',
    'out.{}',
    'out.{Shop}',
    'out.{-shop}',
    'out.{shop}.extra',
    'in.{shop}',
    'xout.{shop}',
    `out.{${'x'.repeat(65)}}`,
    'out.{sh op}',
  ])('is null for %p, which is not an outbound queue', (queueName) => {
    expect(sessionIdOfQueue(queueName)).toBeNull();
  });

  it('puts the session id in a Redis Cluster hash tag', () => {
    const sessionId = 'shop-01';
    expect(hashTagOf(outboundQueueName(sessionId))).toBe(sessionId);
  });

  it('keeps every BullMQ key of a queue and every per-session key of ours in one slot', () => {
    const sessionId = 'shop-01';
    const keys = new RedisKeys('wa');
    // BullMQ builds its keys as <prefix>:<queue name>:<suffix>.
    const bullKeys = ['wait', 'prioritized', 'delayed', 'meta', 'id', 'events', '42'].map(
      (suffix) => `wa:${outboundQueueName(sessionId)}:${suffix}`,
    );
    const sessionKeys = [
      keys.session(sessionId),
      keys.lease(sessionId),
      keys.leaseToken(sessionId),
      keys.pacing(sessionId),
      keys.pacingNext(sessionId),
      keys.waMessage(sessionId, 'true_1@c.us_ABC'),
      keys.contact(sessionId, '1@c.us'),
      keys.simulatorDevice(sessionId),
      keys.simulatorOutbox(sessionId),
      keys.simulatorOutboxIndex(sessionId),
    ];
    for (const key of [...bullKeys, ...sessionKeys]) {
      expect({ key, tag: hashTagOf(key) }).toEqual({ key, tag: sessionId });
    }
  });
});

describe('MAINTENANCE_QUEUE', () => {
  it('has a hash tag of its own that no session id can take', () => {
    const tag = hashTagOf(MAINTENANCE_QUEUE);
    expect(MAINTENANCE_QUEUE).toMatch(/\{[^}]+\}/); // a tag, not the whole key hashed
    expect(SESSION_ID_PATTERN.test(tag)).toBe(false);
    expect(sessionIdOfQueue(MAINTENANCE_QUEUE)).toBeNull();
  });
});

describe('PRIORITY', () => {
  it('is never 0 (BullMQ would serve such jobs before every prioritized one)', () => {
    for (const value of Object.values(PRIORITY)) expect(value).toBeGreaterThan(0);
  });

  it('orders high before normal before low (lower runs first)', () => {
    expect(PRIORITY.high).toBeLessThan(PRIORITY.normal);
    expect(PRIORITY.normal).toBeLessThan(PRIORITY.low);
  });
});
