import type { HookContext } from '@bull-board/api/typings/app';
import { boardQueueOptions, decideBoardAction, queueKindOf } from './board-actions';
import { redactJobData } from './board-job-data';
import { isBoardRoute } from './board-route';

/** A board request as bull-board's handler hook sees it; `jobStates` are the queue's jobs. */
function ctx(
  method: HookContext['method'],
  route: string,
  params: Record<string, string>,
  jobStates: Record<string, string> = {},
): HookContext {
  const queue = {
    getJob: async (id: string) =>
      jobStates[id] ? { getState: async () => jobStates[id] } : undefined,
  };
  return {
    method,
    route,
    request: { queues: new Map([[params.queueName, queue]]), params } as never,
  };
}

const allowed = (d: { allowed: boolean }) => d.allowed;

describe('board actions', () => {
  const out = 'out.{s1}';

  it('tells the queue kinds apart, and nothing else is one', () => {
    expect(queueKindOf(out)).toBe('session');
    expect(queueKindOf('{_webhooks}')).toBe('webhooks');
    expect(queueKindOf('{_maintenance}')).toBe('maintenance');
    expect(queueKindOf('out.{UPPER}')).toBeNull();
    expect(queueKindOf(undefined)).toBeNull();
  });

  it('allows reads everywhere, even read-only', async () => {
    const read = ctx('get', '/api/queues/:queueName/:jobId', { queueName: out, jobId: 'm1' });
    expect(allowed(await decideBoardAction(read, false))).toBe(true);
    expect(allowed(await decideBoardAction(read, true))).toBe(true);
  });

  it('on a session queue, removes only finished jobs, by job or by status', async () => {
    const jobs = { done: 'failed', waiting: 'waiting', later: 'delayed', now: 'active' };
    const clean = (jobId: string) =>
      decideBoardAction(
        ctx('put', '/api/queues/:queueName/:jobId/clean', { queueName: out, jobId }, jobs),
        false,
      );
    expect(allowed(await clean('done'))).toBe(true);
    for (const id of ['waiting', 'later', 'now']) expect(allowed(await clean(id))).toBe(false);
    // An unknown job is bull-board's 404.
    expect(allowed(await clean('ghost'))).toBe(true);
    const cleanAll = (queueStatus: string) =>
      decideBoardAction(
        ctx('put', '/api/queues/:queueName/clean/:queueStatus', { queueName: out, queueStatus }),
        false,
      );
    expect(allowed(await cleanAll('completed'))).toBe(true);
    expect(allowed(await cleanAll('failed'))).toBe(true);
    for (const s of ['wait', 'delayed', 'active', 'paused', 'prioritized'])
      expect(allowed(await cleanAll(s))).toBe(false);
  });

  it('on a session queue, refuses retry, promote, pause and every other write, saying why', async () => {
    const jobs = { done: 'failed', later: 'delayed' };
    for (const [method, route, jobId] of [
      ['put', '/api/queues/:queueName/:jobId/retry', 'done'],
      ['put', '/api/queues/:queueName/retry/:queueStatus', undefined],
      ['put', '/api/queues/:queueName/:jobId/promote', 'later'],
      ['put', '/api/queues/:queueName/promote', undefined],
      ['put', '/api/queues/:queueName/pause', undefined],
      ['post', '/api/queues/:queueName/add', undefined],
      ['patch', '/api/queues/:queueName/:jobId/delay', 'later'],
      ['put', '/api/queues/:queueName/some-future-action', undefined],
    ] as const) {
      const params = { queueName: out, queueStatus: 'failed', ...(jobId ? { jobId } : {}) };
      const d = await decideBoardAction(ctx(method, route, params, jobs), false);
      expect([route, d]).toEqual([route, { allowed: false, reason: expect.any(String) }]);
    }
  });

  it('retries failed maintenance runs, promotes delayed deliveries, refuses webhook retries', async () => {
    const decide = (queueName: string, route: string, jobId: string, state: string) =>
      decideBoardAction(ctx('put', route, { queueName, jobId }, { [jobId]: state }), false);
    const retry = '/api/queues/:queueName/:jobId/retry';
    expect(allowed(await decide('{_maintenance}', retry, 'j', 'failed'))).toBe(true);
    expect(allowed(await decide('{_maintenance}', retry, 'j', 'completed'))).toBe(false);
    expect(allowed(await decide('{_webhooks}', retry, 'j', 'failed'))).toBe(false);
    const promote = '/api/queues/:queueName/:jobId/promote';
    expect(allowed(await decide('{_webhooks}', promote, 'j', 'delayed'))).toBe(true);
    expect(allowed(await decide('{_maintenance}', promote, 'j', 'delayed'))).toBe(false);
  });

  it('read-only refuses every write, and the UI is told so', async () => {
    const d = await decideBoardAction(
      ctx('put', '/api/queues/:queueName/clean/:queueStatus', {
        queueName: out,
        queueStatus: 'failed',
      }),
      true,
    );
    expect(d).toEqual({ allowed: false, reason: expect.stringMatching(/BULL_BOARD_READ_ONLY/) });
    expect(boardQueueOptions('maintenance', true)).toEqual({
      readOnlyMode: true,
      allowRetries: false,
      allowCompletedRetries: false,
    });
    expect(boardQueueOptions('maintenance', false).allowRetries).toBe(true);
    expect(boardQueueOptions('session', false).allowRetries).toBe(false);
  });
});

describe('board routes and job data', () => {
  it('matches the board by its route pattern only', () => {
    expect(isBoardRoute('/admin/queues')).toBe(true);
    expect(isBoardRoute('/admin/queues/static/*')).toBe(true);
    expect(isBoardRoute('/admin/queuesx')).toBe(false);
    expect(isBoardRoute('/api/sessions')).toBe(false);
    expect(isBoardRoute(undefined)).toBe(false);
  });

  it('shows message content by its length only', () => {
    expect(
      redactJobData({
        messageId: 'm1',
        content: { text: 'hello', media: { base64: 'AAAA', caption: 'hi', mimetype: 'image/png' } },
        event: { data: { text: 'incoming', from: '1555' } },
      }),
    ).toEqual({
      messageId: 'm1',
      content: {
        text: '[5 characters]',
        media: { base64: '[4 characters]', caption: '[2 characters]', mimetype: 'image/png' },
      },
      event: { data: { text: '[8 characters]', from: '1555' } },
    });
  });

  it('shows URLs without their credentials or query string (presigned tokens)', () => {
    expect(
      redactJobData({
        content: { media: { url: 'https://u:p@files.example.com/a.pdf?X-Amz-Signature=abc' } },
        endpoint: { kind: 'session', url: 'https://hooks.example.com/wa?token=t' },
      }),
    ).toEqual({
      content: { media: { url: 'https://files.example.com/a.pdf' } },
      endpoint: { kind: 'session', url: 'https://hooks.example.com/wa' },
    });
  });
});
