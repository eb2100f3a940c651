import { assertHostAllowed, isLoopbackHost } from './host-policy';

describe('emulator host policy', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])(
    'allows the loopback host %s',
    (host) => {
      expect(isLoopbackHost(host)).toBe(true);
      expect(() => assertHostAllowed(host, false)).not.toThrow();
    },
  );

  it.each(['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'example.com', '128.0.0.1'])(
    'refuses %s unless remote access is allowed',
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
      expect(() => assertHostAllowed(host, false)).toThrow(/EMULATOR_ALLOW_REMOTE=1/);
      expect(() => assertHostAllowed(host, true)).not.toThrow();
    },
  );
});
