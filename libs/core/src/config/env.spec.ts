import { ConfigError, EnvReader, readSharedConfig } from './env';

function reader(env: Record<string, string>): EnvReader {
  return new EnvReader(env);
}

/** Runs `read` and returns the ConfigError it throws (fails the test if it throws nothing else). */
function configErrorOf(read: () => unknown): ConfigError {
  try {
    read();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

describe('EnvReader', () => {
  describe('string', () => {
    it('returns the value when set', () => {
      expect(reader({ NAME: 'value' }).string('NAME', 'fallback')).toBe('value');
    });

    it('returns the fallback when unset or empty', () => {
      expect(reader({}).string('NAME', 'fallback')).toBe('fallback');
      expect(reader({ NAME: '' }).string('NAME', 'fallback')).toBe('fallback');
    });
  });

  describe('optionalString', () => {
    it('returns undefined when unset or empty, the value otherwise', () => {
      expect(reader({}).optionalString('NAME')).toBeUndefined();
      expect(reader({ NAME: '' }).optionalString('NAME')).toBeUndefined();
      expect(reader({ NAME: 'x' }).optionalString('NAME')).toBe('x');
    });
  });

  describe('int', () => {
    it('returns the fallback when unset or empty', () => {
      expect(reader({}).int('N', 7)).toBe(7);
      expect(reader({ N: '' }).int('N', 7)).toBe(7);
    });

    it('parses integers, including negative ones and surrounding spaces', () => {
      expect(reader({ N: '42' }).int('N', 7)).toBe(42);
      expect(reader({ N: '-3' }).int('N', 7, -10)).toBe(-3);
      expect(reader({ N: ' 12 ' }).int('N', 7)).toBe(12);
    });

    it.each(['abc', '1.5', '1e3', '0x10', '12abc', ' '])(
      'rejects the non-integer %p with a ConfigError naming the variable',
      (raw) => {
        const err = configErrorOf(() => reader({ MY_INT: raw }).int('MY_INT', 7));
        expect(err.variable).toBe('MY_INT');
        expect(err.message).toContain('MY_INT');
        expect(err.message).toContain('integer');
      },
    );

    it('accepts the bounds themselves and rejects values outside them', () => {
      expect(reader({ N: '1' }).int('N', 5, 1, 10)).toBe(1);
      expect(reader({ N: '10' }).int('N', 5, 1, 10)).toBe(10);
      for (const raw of ['0', '11']) {
        const err = configErrorOf(() => reader({ N: raw }).int('N', 5, 1, 10));
        expect(err.variable).toBe('N');
        expect(err.message).toContain('between 1 and 10');
      }
    });

    it('rejects negative numbers by default (min 0)', () => {
      expect(configErrorOf(() => reader({ N: '-1' }).int('N', 5)).variable).toBe('N');
    });
  });

  describe('bool', () => {
    it.each(['1', 'true', 'TRUE', 'yes', 'on', 'On'])('reads %p as true', (raw) => {
      expect(reader({ B: raw }).bool('B', false)).toBe(true);
    });

    it.each(['0', 'false', 'False', 'no', 'off', 'OFF'])('reads %p as false', (raw) => {
      expect(reader({ B: raw }).bool('B', true)).toBe(false);
    });

    it('returns the fallback when unset or empty', () => {
      expect(reader({}).bool('B', true)).toBe(true);
      expect(reader({ B: '' }).bool('B', false)).toBe(false);
    });

    it.each(['2', 'maybe', 'truee', 'y'])(
      'rejects %p with a ConfigError naming the variable',
      (raw) => {
        const err = configErrorOf(() => reader({ MY_FLAG: raw }).bool('MY_FLAG', false));
        expect(err.variable).toBe('MY_FLAG');
        expect(err.message).toContain('MY_FLAG');
      },
    );
  });

  describe('oneOf', () => {
    const levels = ['debug', 'info', 'warn'] as const;

    it('returns an allowed value, or the fallback when unset', () => {
      expect(reader({ LEVEL: 'warn' }).oneOf('LEVEL', levels, 'info')).toBe('warn');
      expect(reader({}).oneOf('LEVEL', levels, 'info')).toBe('info');
    });

    it('rejects a value outside the list, listing the allowed ones', () => {
      const err = configErrorOf(() => reader({ LEVEL: 'loud' }).oneOf('LEVEL', levels, 'info'));
      expect(err.variable).toBe('LEVEL');
      expect(err.message).toContain('debug, info, warn');
      expect(err.message).toContain('"loud"');
    });
  });

  describe('list', () => {
    it('splits on commas, trims and drops empty items', () => {
      expect(reader({ KEYS: ' a, b ,,c , ' }).list('KEYS')).toEqual(['a', 'b', 'c']);
    });

    it('is empty when unset or empty', () => {
      expect(reader({}).list('KEYS')).toEqual([]);
      expect(reader({ KEYS: '' }).list('KEYS')).toEqual([]);
    });
  });

  it('reads process.env when given no environment', () => {
    const name = `ENV_SPEC_${process.pid}`;
    process.env[name] = 'from-process';
    try {
      expect(new EnvReader().string(name, 'fallback')).toBe('from-process');
    } finally {
      delete process.env[name];
    }
  });
});

describe('readSharedConfig', () => {
  it('has the documented defaults', () => {
    expect(readSharedConfig(reader({}))).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      redisClusterNodes: [],
      queuePrefix: 'wa',
      messageRetentionDays: 7,
      messageMaxAttempts: 5,
      sessionLeaseMs: 15000,
    });
  });

  it('reads every variable', () => {
    const config = readSharedConfig(
      reader({
        REDIS_URL: 'rediss://user:pw@redis.example:6380/2',
        QUEUE_PREFIX: 'prod_wa-1.eu',
        MESSAGE_RETENTION_DAYS: '30',
        MESSAGE_MAX_ATTEMPTS: '9',
        SESSION_LEASE_MS: '5000',
        REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001',
      }),
    );
    expect(config).toEqual({
      redisUrl: 'rediss://user:pw@redis.example:6380/2',
      redisClusterNodes: ['10.0.0.1:7000', 'redis-b:7001'],
      queuePrefix: 'prod_wa-1.eu',
      messageRetentionDays: 30,
      messageMaxAttempts: 9,
      sessionLeaseMs: 5000,
    });
  });

  it.each([
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', '127.0.0.1:6379'],
    ['REDIS_URL', 'redis+sentinel://s1:26379'],
    ['REDIS_URL', 'redis+sentinel://s1:99999/mymaster'],
    ['REDIS_URL', 'rediss+sentinel://s1:26379/mymaster'],
    ['REDIS_URL', 'redis+sentinel://s1:26379/mymaster?tls=1'],
    ['REDIS_CLUSTER_NODES', 'no-port-here'],
    ['QUEUE_PREFIX', 'has space'],
    ['QUEUE_PREFIX', 'has:colon'],
    ['QUEUE_PREFIX', 'brace{tag}'],
    ['QUEUE_PREFIX', 'x'.repeat(65)],
    ['MESSAGE_RETENTION_DAYS', '0'],
    ['MESSAGE_RETENTION_DAYS', '3651'],
    ['MESSAGE_RETENTION_DAYS', 'week'],
    ['MESSAGE_MAX_ATTEMPTS', '0'],
    ['MESSAGE_MAX_ATTEMPTS', '101'],
    ['SESSION_LEASE_MS', '999'],
    ['SESSION_LEASE_MS', '600001'],
    ['SESSION_LEASE_MS', '1.5s'],
  ])('rejects %s=%p with a ConfigError naming it', (variable, value) => {
    const err = configErrorOf(() => readSharedConfig(reader({ [variable]: value })));
    expect(err.variable).toBe(variable);
    expect(err.message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
    expect(err.name).toBe('ConfigError');
  });

  it('refuses a Redis Cluster behind a Sentinel URL', () => {
    const err = configErrorOf(() =>
      readSharedConfig(
        reader({ REDIS_URL: 'redis+sentinel://s1/m', REDIS_CLUSTER_NODES: '10.0.0.1:7000' }),
      ),
    );
    expect(err.variable).toBe('REDIS_CLUSTER_NODES');
  });

  it('accepts a 64-character prefix and the bounds of each number', () => {
    const config = readSharedConfig(
      reader({
        QUEUE_PREFIX: 'p'.repeat(64),
        MESSAGE_RETENTION_DAYS: '3650',
        MESSAGE_MAX_ATTEMPTS: '1',
        SESSION_LEASE_MS: '600000',
      }),
    );
    expect(config.queuePrefix).toHaveLength(64);
    expect(config.messageRetentionDays).toBe(3650);
    expect(config.messageMaxAttempts).toBe(1);
    expect(config.sessionLeaseMs).toBe(600000);
  });
});
