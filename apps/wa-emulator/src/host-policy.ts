import { isIP } from 'node:net';

/**
 * Whether the emulator may listen on `host`. Its control API has no authentication (anyone who
 * reaches the port can link devices, read the sent log, inject messages), so it listens on
 * loopback only unless the operator says otherwise (EMULATOR_ALLOW_REMOTE=1 / allowRemote).
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

export function assertHostAllowed(host: string, allowRemote: boolean): void {
  if (allowRemote || isLoopbackHost(host)) return;
  throw new Error(
    `refusing to listen on ${host}: the emulator's control API has no authentication; ` +
      'use a loopback host, or set EMULATOR_ALLOW_REMOTE=1 to expose it anyway',
  );
}
