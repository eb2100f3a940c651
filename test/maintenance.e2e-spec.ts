import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { MAINTENANCE_QUEUE, MaintenanceJobName } from '@app/queue';
import { TestSystem } from './support/system';
import { waitFor } from './support/wait-for';

const JOB_NAMES = Object.values(MaintenanceJobName);

/** A `completed` entry of a BullMQ queue's event stream. */
interface Completion {
  jobId: string;
  returnvalue: string;
}

/**
 * The workers' periodic work runs on the fixed maintenance queue (BullModule + a @Processor):
 * one job scheduler in Redis however many workers start, each tick run by one worker, the
 * expiry sweep among them. Two real worker processes, SIGTERMed at the end.
 */
describe('maintenance queue: the expiry sweep as a BullMQ job scheduler', () => {
  const sys = new TestSystem('maint');
  let redis: Redis;
  let queue: Queue;

  const liveWorkers = async (): Promise<string[]> =>
    ((await sys.api.get('/api/workers')).body.workers as { id: string }[]).map((w) => w.id).sort();

  /** What the maintenance queue's workers finished, from BullMQ's own event stream. */
  async function completions(): Promise<Completion[]> {
    const entries = await redis.xrange(`${sys.env.prefix}:${MAINTENANCE_QUEUE}:events`, '-', '+');
    return entries
      .map(([, fields]) => {
        const f = new Map<string, string>();
        for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i], fields[i + 1]);
        return f;
      })
      .filter((f) => f.get('event') === 'completed')
      .map((f) => ({ jobId: f.get('jobId')!, returnvalue: f.get('returnvalue')! }));
  }

  beforeAll(async () => {
    await sys.start(['w-1', 'w-2']);
    redis = new Redis(sys.env.redisUrl);
    // The test's own view of the queue, as BullMQ sees it (no Worker: it consumes nothing).
    queue = new Queue(MAINTENANCE_QUEUE, { connection: redis, prefix: sys.env.prefix });
    await waitFor(
      'both workers to heartbeat',
      async () => (await liveWorkers()).length === 2,
      20000,
    );
  }, 60000);
  afterAll(async () => {
    await queue?.close();
    await redis?.quit();
    await sys.stop();
  }, 30000);

  it('holds one scheduler per maintenance job, registered by every worker at bootstrap', async () => {
    const schedulers = await waitFor('the schedulers', async () => {
      const found = await queue.getJobSchedulers();
      return found.length === JOB_NAMES.length ? found : null;
    });
    expect(schedulers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          key: MaintenanceJobName.ExpirySweep,
          name: MaintenanceJobName.ExpirySweep,
          every: 1000,
        }),
        expect.objectContaining({
          key: MaintenanceJobName.EventStreamTrim,
          name: MaintenanceJobName.EventStreamTrim,
          every: 30000,
        }),
      ]),
    );
  });

  it('expires a message in a session that cannot send, by a tick of the maintenance queue', async () => {
    // The owner never scans: the session stays unlinked, its queue paused.
    expect(
      (await sys.api.createSession('unlinked', { simulator: { linkAfterMs: 600000 } })).status,
    ).toBe(201);
    await sys.waitForStatus('unlinked', 'qr');
    const res = await sys.api.post('/api/sessions/unlinked/messages', {
      to: '15551234567',
      text: 'too late',
      expiresAt: new Date(Date.now() + 1000).toISOString(),
    });
    expect(res.status).toBe(202);
    // Not read through the API meanwhile: a read of a due message settles it itself.
    const done = await waitFor(
      'a maintenance job that expired one message',
      async () => {
        const all = (await completions()).filter((c) =>
          c.jobId.startsWith(`repeat:${MaintenanceJobName.ExpirySweep}:`),
        );
        return all.some((c) => c.returnvalue === '1') ? all : null;
      },
      10000,
    );
    const record = await sys.api.get(`/api/messages/${res.body.id}`);
    expect([record.body.status, record.body.error?.code]).toEqual(['expired', 'EXPIRED']);
    // Each tick is one job, finished once, by one of the two workers.
    const ids = done.map((c) => c.jobId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps one scheduler across restarts; a SIGTERMed worker exits cleanly', async () => {
    expect(await sys.workers.get('w-1')!.stop()).toBe(0);
    sys.startWorker('w-3');
    await waitFor('w-3 to heartbeat', async () => (await liveWorkers()).includes('w-3'), 20000);
    // w-3 upserts the same schedulers at its bootstrap: still one each, and the ticks go on.
    expect(await queue.getJobSchedulers()).toHaveLength(JOB_NAMES.length);
    const before = (await completions()).length;
    await waitFor('another tick to complete', async () => (await completions()).length > before);
    expect(await sys.workers.get('w-2')!.stop()).toBe(0);
    expect(await sys.workers.get('w-3')!.stop()).toBe(0);
  });
});
