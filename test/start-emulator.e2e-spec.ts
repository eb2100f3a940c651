import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidsUsingProfile } from '../libs/session/src/drivers/wwebjs/browser/process-tree';
import { LocalStart } from './support/local-start';
import { freePort, sharedRedisUrl, uniquePrefix } from './support/redis-server';
import { waitFor } from './support/wait-for';

/**
 * `npm start -- --emulator`: the whole system with whatsapp-web.js in the real Chromium against
 * the WhatsApp Web emulator, still with no phone. The printed curl works: the message goes out
 * through the demo-wa session and the emulated WhatsApp received it.
 */
describe('npm start -- --emulator', () => {
  const key = 'local-emu-key-0123456789';
  const sessions = mkdtempSync(join(tmpdir(), 'wa-start-emu-'));
  let port: number;
  let local: LocalStart;
  /** The session's Chromium profile: SESSION_DATA_DIR/<this host's folder>/session-demo-wa. */
  const profile = () => join(sessions, readdirSync(sessions)[0] ?? 'none', 'session-demo-wa');

  beforeAll(async () => {
    port = await freePort();
    local = new LocalStart(
      {
        REDIS_URL: sharedRedisUrl(),
        QUEUE_PREFIX: uniquePrefix('start-emu'),
        PORT: String(port),
        API_KEYS: key,
        LOG_FORMAT: 'json',
        WORKER_ID: 'local-emu-worker',
        SESSION_DATA_DIR: sessions,
        DEFAULT_DRIVER: '',
      },
      ['--emulator'],
    );
    await waitFor(
      'npm start to print its banner',
      () => local.text().includes('Ctrl-C stops everything'),
      120000,
      200,
    );
  }, 150000);

  afterAll(async () => {
    await local?.stop();
    rmSync(sessions, { recursive: true, force: true });
  }, 40000);

  it('links demo-wa with the emulated phone and sends through whatsapp-web.js', async () => {
    expect(local.text()).toContain('the emulated phone +15550001111 linked the "demo-wa" session');
    const emulatorPort = Number(
      /WhatsApp Web emulator on 127\.0\.0\.1:(\d+)/.exec(local.text())![1],
    );
    const headers = { 'x-api-key': key, 'content-type': 'application/json' };
    const session = await waitFor(
      'demo-wa to be ready',
      async () => {
        const s = await fetch(`http://127.0.0.1:${port}/api/sessions/demo-wa`, { headers });
        const body = (await s.json()) as { status: string; driver: string; phone?: string };
        return body.status === 'ready' ? body : null;
      },
      60000,
      200,
    );
    expect(session.driver).toBe('wwebjs');
    // Its Chromium runs on the session's profile (what the last case checks is gone).
    expect(pidsUsingProfile(profile()).length).toBeGreaterThan(0);

    const text = `through whatsapp-web.js ${Date.now()}`;
    const res = await fetch(`http://127.0.0.1:${port}/api/sessions/demo-wa/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ to: '+1 555 123 4567', text }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const message = await waitFor(
      'the message delivered',
      async () => {
        const m = (await (
          await fetch(`http://127.0.0.1:${port}/api/messages/${id}`, { headers })
        ).json()) as { status: string; waMessageId?: string };
        return ['delivered', 'read'].includes(m.status) ? m : null;
      },
      60000,
      200,
    );
    const sent = (await (
      await fetch(`http://127.0.0.1:${emulatorPort}/control/sent?phone=15550001111`)
    ).json()) as { waMessageId: string; to: string; body: string }[];
    const mine = sent.filter((s) => s.body === text);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ to: '15551234567@c.us', waMessageId: message.waMessageId });
  }, 150000);

  it('leaves no Chromium behind when stopped', async () => {
    await local.stop();
    expect(pidsUsingProfile(profile())).toEqual([]);
  }, 60000);
});
