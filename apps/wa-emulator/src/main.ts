import { startEmulator } from './index';

/** `npm run emulator [--port N]`: starts the emulator and prints how to point a browser at it. */
function portFromArgs(): number {
  const i = process.argv.indexOf('--port');
  const raw = i >= 0 ? process.argv[i + 1] : process.env.EMULATOR_PORT;
  const port = Number(raw ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`invalid port ${raw} (--port or EMULATOR_PORT)\n`);
    process.exit(1);
  }
  return port;
}

async function main(): Promise<void> {
  const host = process.env.EMULATOR_HOST ?? '127.0.0.1';
  const emulator = await startEmulator({
    port: portFromArgs(),
    host,
    allowRemote: process.env.EMULATOR_ALLOW_REMOTE === '1',
  });
  process.stdout.write(`emulator listening on ${host}:${emulator.port}\n`);
  process.stdout.write(`CHROMIUM_EXTRA_ARGS="${emulator.chromiumArgs.join(' ')}"\n`);
  const stop = () => {
    void emulator.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main().catch((err: unknown) => {
  process.stderr.write(`emulator failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
