import { refuseUrlHost } from './url-host-policy';

describe('refuseUrlHost', () => {
  it.each([
    'http://127.0.0.1/hook',
    'http://localhost:8080/hook',
    'http://LOCALHOST./hook',
    'http://api.localhost/hook',
    'http://10.1.2.3/',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://169.254.169.254/latest/meta-data',
    'http://0.0.0.0/',
    'http://224.0.0.1/',
    'http://[::1]/',
    'http://[fe80::1]/',
    'http://[fd00::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:a9fe:a9fe]/', // IPv4-mapped metadata address, in hex
    'http://2130706433/', // decimal 127.0.0.1
    'http://0x7f.1/', // hex
    'http://0177.0.0.1/', // octal
    'http://127.1/', // short form
    'http://0/',
  ])('refuses %s by default', (raw) => {
    expect(refuseUrlHost(new URL(raw), false)).toEqual(expect.any(String));
  });

  it.each(['https://example.com/hook', 'https://8.8.8.8/', 'http://[2606:4700:4700::1111]/'])(
    'accepts %s',
    (raw) => {
      expect(refuseUrlHost(new URL(raw), false)).toBeNull();
    },
  );

  it('lets private and loopback through with allowPrivate, never unspecified or multicast', () => {
    expect(refuseUrlHost(new URL('http://127.0.0.1:9000/'), true)).toBeNull();
    expect(refuseUrlHost(new URL('http://localhost/'), true)).toBeNull();
    expect(refuseUrlHost(new URL('http://10.0.0.1/'), true)).toBeNull();
    expect(refuseUrlHost(new URL('http://0.0.0.0/'), true)).toEqual(expect.any(String));
    expect(refuseUrlHost(new URL('http://224.0.0.1/'), true)).toEqual(expect.any(String));
  });
});
