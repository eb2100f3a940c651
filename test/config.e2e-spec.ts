import { AppProcess } from './support/processes';
import { sharedRedisUrl, uniquePrefix } from './support/redis-server';

/** Configuration is validated at boot: a bad value stops the process and names the variable. */
describe('configuration at boot', () => {
  async function exitOf(
    script: string,
    env: NodeJS.ProcessEnv,
  ): Promise<{ code: number | null; output: string }> {
    const proc = new AppProcess(
      script,
      { REDIS_URL: sharedRedisUrl(), QUEUE_PREFIX: uniquePrefix('cfg'), ...env },
      script,
    );
    const timer = setTimeout(() => proc.signal('SIGKILL'), 20000);
    const code = await proc.exited;
    clearTimeout(timer);
    return { code, output: proc.logs() };
  }

  it('refuses to start the gateway in production without API_KEYS', async () => {
    const r = await exitOf('start:gateway', { NODE_ENV: 'production', API_KEYS: '' });
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/API_KEYS/);
  });

  it.each([
    ['start:gateway', 'PORT', 'eighty'],
    ['start:gateway', 'DEFAULT_DRIVER', 'baileys'],
    ['start:gateway', 'REDIS_URL', 'localhost:6379'],
    ['start:worker', 'WORKER_MAX_SESSIONS', '0'],
    ['start:worker', 'SESSION_LEASE_MS', 'soon'],
    ['start:worker', 'SEND_TIMEOUT_MS', '-5'],
  ])('%s stops on a bad %s and names it', async (script, variable, value) => {
    const r = await exitOf(script, { [variable]: value });
    expect(r.code).not.toBe(0);
    expect(r.output).toContain(variable);
  });
});
