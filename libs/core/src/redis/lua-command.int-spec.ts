import { Redis } from 'ioredis';
import { sharedRedisUrl, uniquePrefix } from '../../../../test/support/redis-server';
import { defineLuaCommand } from './lua-command';

/** Sets KEYS[1] to ARGV[1] only if it holds ARGV[2] ('' = absent); 1 when it did. */
const SWAP_LUA = `
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;

/** Returns its keys and arguments as it saw them. */
const ECHO_LUA = `return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}`;

describe('defineLuaCommand (real Redis)', () => {
  let redis: Redis;
  const prefix = uniquePrefix('lua');

  beforeEach(() => {
    // A fresh connection per test: commands are defined per connection.
    redis = new Redis(sharedRedisUrl());
  });
  afterEach(async () => {
    await redis.del(`${prefix}:swap`, `${prefix}:shared`);
    await redis.quit();
  });

  it('runs the script with the first numberOfKeys arguments as KEYS, the rest as ARGV', async () => {
    const echo = defineLuaCommand<[a: string, b: string, x: string, y: number], string[]>(
      redis,
      'waTestEcho',
      { numberOfKeys: 2, lua: ECHO_LUA },
    );
    expect(await echo(`${prefix}:a`, `${prefix}:b`, 'x', 7)).toEqual([
      `${prefix}:a`,
      `${prefix}:b`,
      'x',
      '7',
    ]);
  });

  it('gives a caller whose outcome is the script’s, atomically', async () => {
    const swap = defineLuaCommand<[key: string, next: string, seen: string], number>(
      redis,
      'waTestSwap',
      { numberOfKeys: 1, lua: SWAP_LUA },
    );
    const key = `${prefix}:swap`;
    expect(await swap(key, 'one', '')).toBe(1);
    // Two callers that saw the same value: exactly one wins.
    const results = await Promise.all([swap(key, 'two', 'one'), swap(key, 'three', 'one')]);
    expect(results.sort()).toEqual([0, 1]);
    expect(['two', 'three']).toContain(await redis.get(key));
  });

  it('lets several stores on one connection define the same command', async () => {
    const first = defineLuaCommand<[string, string, string], number>(redis, 'waTestSwap', {
      numberOfKeys: 1,
      lua: SWAP_LUA,
    });
    const second = defineLuaCommand<[string, string, string], number>(redis, 'waTestSwap', {
      numberOfKeys: 1,
      lua: SWAP_LUA,
    });
    const key = `${prefix}:shared`;
    expect(await first(key, 'a', '')).toBe(1);
    expect(await second(key, 'b', 'a')).toBe(1);
  });

  it('refuses a name taken by another script or by a Redis method', () => {
    defineLuaCommand(redis, 'waTestSwap', { numberOfKeys: 1, lua: SWAP_LUA });
    expect(() => defineLuaCommand(redis, 'waTestSwap', { numberOfKeys: 2, lua: ECHO_LUA })).toThrow(
      /defined already, with another script/,
    );
    expect(() => defineLuaCommand(redis, 'get', { numberOfKeys: 1, lua: ECHO_LUA })).toThrow(
      /taken/,
    );
  });
});
