import { Test, type TestingModule } from '@nestjs/testing';
import pino from 'pino';
import { CoreModule, EnvReader, REDIS, RedisKeys } from '@app/core';
import { readEvents } from '../../../../test/support/event-stream';
import { MessageQueueService, MessageStore, OutboundQueues, type SendMessageJob } from '@app/queue';
import { INITIAL_SESSION_STATE, SessionStore, type SessionConfig } from '@app/session';
import {
  isAlive,
  processTreeMemoryMb,
} from '../../../../libs/session/src/drivers/wwebjs/browser/process-tree';
import { chromiumArgs } from '../../../../libs/session/src/drivers/wwebjs/browser/chromium-profile';
import { ChromiumBackedClient } from '../../../../test/support/chromium-backed-client';
import { sharedRedisUrl, uniquePrefix } from '../../../../test/support/redis-server';
import { waitFor } from '../../../../test/support/wait-for';
import { loadWorkerConfig, WORKER_CONFIG } from '../config/worker.config';
import { SessionRuntime, type RuntimeDeps } from './session-runtime';
import { RUNTIME_DEPS, SupervisionModule } from './supervision.module';

jest.setTimeout(90000);

const until = (what: string, check: () => boolean | Promise<boolean>, ms = 30000) =>
  waitFor(what, check, ms, 20);

/** Memory of an idle browser with our flags, to set the limit above it. */
async function idleBrowserMb(): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const puppeteer = require('puppeteer-core') as typeof import('puppeteer-core');
  const browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    pipe: true,
    args: chromiumArgs({ runningAsRoot: process.getuid?.() === 0 }),
  });
  const page = (await browser.pages())[0];
  await page.goto('data:text/html,<p>idle</p>');
  const mb = processTreeMemoryMb(browser.process()!.pid!) ?? 0;
  await browser.close();
  return mb;
}

/**
 * The first seed's root cause was Chromium outgrowing its container. With the real Chromium
 * (WhatsApp scripted at the Client boundary): a page that grows past BROWSER_MEMORY_LIMIT_MB
 * makes the worker recycle that browser on purpose: queue paused, send in flight finished,
 * old browser gone, new one launched, queue resumed, every message sent once.
 */
describe('browser recycle on memory (real Chromium, real Redis and BullMQ)', () => {
  const prefix = uniquePrefix('recycle');
  const keys = new RedisKeys(prefix);
  const clients: ChromiumBackedClient[] = [];
  let app: TestingModule;
  let queues: OutboundQueues;
  let runtime: SessionRuntime;
  let producer: MessageQueueService;
  let messages: MessageStore;

  beforeAll(async () => {
    const limit = Math.round((await idleBrowserMb()) + 150);
    const base = loadWorkerConfig(
      new EnvReader({ REDIS_URL: sharedRedisUrl(), QUEUE_PREFIX: prefix, WORKER_ID: 'w-recycle' }),
    );
    const config = {
      ...base,
      sendTimeoutMs: 10000,
      healthCheckIntervalMs: 200,
      healthCheckTimeoutMs: 5000,
      browserMemoryLimitMb: limit,
      wwebjs: {
        ...base.wwebjs,
        sessionDataDir: `/tmp/wa-recycle-${process.pid}`,
        clientFactory: (o: ConstructorParameters<typeof ChromiumBackedClient>[0]) => {
          const c = new ChromiumBackedClient(o);
          clients.push(c);
          return c;
        },
      },
    };
    // The worker's own wiring (core module and supervision), with this test's config.
    app = await Test.createTestingModule({
      imports: [
        CoreModule.forRoot({
          config,
          configToken: WORKER_CONFIG,
          logger: pino({ level: 'silent' }),
          role: 'worker',
          connectionName: `${prefix}-worker`,
        }),
        SupervisionModule,
      ],
    }).compile();
    const deps = app.get<RuntimeDeps>(RUNTIME_DEPS);
    const sessions = app.get(SessionStore);
    messages = app.get(MessageStore);
    queues = app.get(OutboundQueues);
    producer = app.get(MessageQueueService);
    const session: SessionConfig = {
      id: 'recycled',
      driver: 'wwebjs',
      rateLimit: { perMinute: 0, minDelayMs: 0, maxDelayMs: 0 },
      webhook: null,
      simulator: null,
      createdAt: new Date().toISOString(),
    };
    await sessions.create(session);
    const lease = (await sessions.claim('recycled', 'w-recycle', 15000))!;
    runtime = new SessionRuntime(deps, session, lease, INITIAL_SESSION_STATE);
    await runtime.start();
  });

  afterAll(async () => {
    await runtime?.stop({ release: true });
    await app?.close(); // the core module closes the queues and the connection
  });

  async function send(n: number, label: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const job: SendMessageJob = {
        messageId: `msg_${label}_${i}`,
        sessionId: 'recycled',
        chatId: '15551230000@c.us',
        content: { text: `${label} ${i}` },
        contentHash: `${label}${i}`,
        priority: 'normal',
        createdAt: new Date().toISOString(),
      };
      await producer.enqueue({ job, to: '15551230000' });
      ids.push(job.messageId);
    }
    return ids;
  }

  it('recycles a browser that outgrows BROWSER_MEMORY_LIMIT_MB, pausing the queue, and loses nothing', async () => {
    await until('ready', () => runtime.status === 'ready');
    const first = await send(10, 'before');
    await until('first messages sent', async () => (await messages.status(first[9])) === 'sent');
    const firstPid = clients[0].pupBrowser!.process()!.pid!;
    expect(isAlive(firstPid)).toBe(true);

    // The recycle may close the page while it is still allocating: that is the point.
    await clients[0].hogMemory(350).catch(() => undefined);
    await until('the recycle to start', () => runtime.status === 'recovering', 10000);
    // The in-memory status changes first; the pause is stored right after it (the state change
    // hook): wait for it rather than race it.
    await until('the queue paused', () => queues.get('recycled').isPaused(), 5000);
    const during = await send(10, 'during');

    await until(
      'a new browser ready',
      () => clients.length === 2 && runtime.status === 'ready',
      60000,
    );
    await until('every message sent', async () => {
      const all = await Promise.all([...first, ...during].map((id) => messages.status(id)));
      return all.every((s) => s === 'sent');
    });
    expect(await queues.get('recycled').isPaused()).toBe(false);
    const statuses = (await readEvents(app.get(REDIS), keys))
      .filter((e) => e.type === 'session.status')
      .map((e) => (e.data as { status: string }).status);
    expect(statuses).toEqual(expect.arrayContaining(['recovering', 'ready']));
    await until('the old browser gone', () => !isAlive(firstPid), 10000);

    const sentTexts = clients.flatMap((c) => c.sendCalls.map((call) => call.content));
    for (const label of ['before', 'during']) {
      for (let i = 0; i < 10; i++)
        expect(sentTexts.filter((t) => t === `${label} ${i}`)).toHaveLength(1);
    }
    expect(clients[1].sendCalls.map((c) => c.content)).toEqual(during.map((_, i) => `during ${i}`));
  });
});
