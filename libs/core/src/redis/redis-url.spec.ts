import { parseRedisUrl, RedisUrlError } from './redis-url';

describe('parseRedisUrl', () => {
  it.each(['redis://127.0.0.1:6379', 'rediss://user:pw@redis.example:6380/2', 'redis://r'])(
    'keeps a one-server URL (%s) for ioredis',
    (url) => expect(parseRedisUrl(url)).toEqual({ kind: 'server', url }),
  );

  it('reads the Sentinels, the master name, the credentials and the db', () => {
    expect(
      parseRedisUrl(
        'redis+sentinel://app:p%40ss@s1.example:26379,10.0.0.2:26380,[::1]/my%20master/3?sentinelPassword=sp',
      ),
    ).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1.example', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26379 },
      ],
      name: 'my master',
      username: 'app',
      password: 'p@ss',
      sentinelPassword: 'sp',
      db: 3,
    });
  });

  it('takes a password without a user, and no credentials at all', () => {
    expect(parseRedisUrl('redis+sentinel://:secret@s1/mymaster')).toMatchObject({
      username: undefined,
      password: 'secret',
      sentinels: [{ host: 's1', port: 26379 }],
      db: 0,
    });
    expect(parseRedisUrl('redis+sentinel://s1:1/m/')).toMatchObject({
      username: undefined,
      password: undefined,
      name: 'm',
    });
  });

  it('takes a password holding @, : and / (the credentials end at the last @), and + in sentinelPassword', () => {
    expect(
      parseRedisUrl('redis+sentinel://app:p@ss:w/rd@s1:26379/m?sentinelPassword=a+b%2Bc'),
    ).toMatchObject({
      username: 'app',
      password: 'p@ss:w/rd',
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'm',
      sentinelPassword: 'a+b+c',
    });
  });

  it.each([
    ['no master name', 'redis+sentinel://s1:26379'],
    ['an empty host', 'redis+sentinel://s1:26379,/m'],
    ['a port out of range', 'redis+sentinel://s1:70000/m'],
    ['an unknown option', 'redis+sentinel://s1/m?role=replica'],
    ['TLS to Sentinels', 'rediss+sentinel://s1/m'],
    ['another scheme', 'http://s1:6379'],
    ['a bad percent-encoding in the password', 'redis+sentinel://:p%E0%A4%A@s1/m'],
    ['a bad percent-encoding in the master name', 'redis+sentinel://s1/m%'],
    ['a database out of range', 'redis+sentinel://s1/m/100000000000000000000'],
    ['a bad percent-encoding in sentinelPassword', 'redis+sentinel://s1/m?sentinelPassword=%ZZ'],
    ['an empty master name', 'redis+sentinel://s1//3'],
    ['a path too long', 'redis+sentinel://s1/m/0/x'],
  ])('refuses %s', (_why, url) => expect(() => parseRedisUrl(url)).toThrow(RedisUrlError));

  it('never repeats a password in its error', () => {
    for (const url of [
      'http://u:hunter2@h',
      'redis+sentinel://u:hunter2@h?sentinelPassword=hunter2',
    ]) {
      expect(() => parseRedisUrl(url)).toThrow(/^(?!.*hunter2)/s);
    }
  });
});
