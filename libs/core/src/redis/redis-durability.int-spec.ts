import { sharedRedisUrl } from '../../../../test/support/redis-server';
import { createRedis } from './redis-connection';
import { redisDurabilityWarnings } from './redis-durability';

describe('redisDurabilityWarnings', () => {
  it('waits for a fail-fast connection instead of reporting a refusal while it connects', async () => {
    // The gateway's connection has no offline queue: a command sent before it is ready fails.
    const redis = createRedis(sharedRedisUrl(), 'producer', 'durability-spec');
    redis.on('error', () => undefined);
    try {
      const warnings = await redisDurabilityWarnings(redis);
      expect(warnings.join('\n')).not.toMatch(/could not read/);
      // The test Redis keeps nothing on disk: that is what an operator must be told.
      expect(warnings.join('\n')).toMatch(/without AOF/);
    } finally {
      redis.disconnect();
    }
  });

  it('says it could not look when Redis never answers', async () => {
    const redis = createRedis('redis://127.0.0.1:1', 'producer', 'durability-spec-down');
    redis.on('error', () => undefined);
    try {
      const warnings = await redisDurabilityWarnings(redis, 300);
      expect(warnings).toEqual([expect.stringMatching(/could not read the Redis configuration/)]);
    } finally {
      redis.disconnect();
    }
  });
});
