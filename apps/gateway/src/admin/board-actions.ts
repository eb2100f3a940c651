import type { BeforeHook, BeforeHookResult, HookContext } from '@bull-board/api/typings/app';
import { MAINTENANCE_QUEUE, sessionIdOfQueue, WEBHOOKS_QUEUE } from '@app/queue';

/** The three kinds of queue the board shows; each has its own rules. */
export type BoardQueueKind = 'session' | 'webhooks' | 'maintenance';

export function queueKindOf(queueName: string | undefined): BoardQueueKind | null {
  if (queueName === undefined) return null;
  if (queueName === WEBHOOKS_QUEUE) return 'webhooks';
  if (queueName === MAINTENANCE_QUEUE) return 'maintenance';
  return sessionIdOfQueue(queueName) !== null ? 'session' : null;
}

/** What a board write does, whatever route bull-board serves it on. */
export type BoardAction =
  'retry' | 'clean' | 'promote' | 'pause' | 'add' | 'empty' | 'edit' | 'tune' | 'schedule';

/**
 * bull-board's write routes (`<method> <route pattern>`, as its handler hooks name them). A write
 * route missing here (a later bull-board version) is refused: deny by default.
 */
const ACTIONS: Record<string, BoardAction> = {
  'put /api/queues/pause': 'pause',
  'put /api/queues/resume': 'pause',
  'post /api/queues/:queueName/add': 'add',
  'put /api/queues/:queueName/retry/:queueStatus': 'retry',
  'put /api/queues/:queueName/promote': 'promote',
  'put /api/queues/:queueName/clean/:queueStatus': 'clean',
  'put /api/queues/:queueName/pause': 'pause',
  'put /api/queues/:queueName/resume': 'pause',
  'put /api/queues/:queueName/concurrency': 'tune',
  'put /api/queues/:queueName/rate-limit': 'tune',
  'put /api/queues/:queueName/rate-limit/release': 'tune',
  'put /api/queues/:queueName/empty': 'empty',
  'put /api/queues/:queueName/obliterate': 'empty',
  'put /api/queues/:queueName/job-schedulers/:schedulerId/remove': 'schedule',
  'patch /api/queues/:queueName/job-schedulers/:schedulerId': 'schedule',
  'put /api/queues/:queueName/job-schedulers/:schedulerId/run': 'schedule',
  'put /api/queues/:queueName/:jobId/retry': 'retry',
  'put /api/queues/:queueName/:jobId/clean': 'clean',
  'put /api/queues/:queueName/:jobId/promote': 'promote',
  'patch /api/queues/:queueName/:jobId/update-data': 'edit',
  'patch /api/queues/:queueName/:jobId/delay': 'edit',
  'patch /api/queues/:queueName/:jobId/priority': 'edit',
  'put /api/queues/:queueName/:jobId/remove-unprocessed-children': 'edit',
};

/** What one kind of queue allows: the job states a retry or a clean may take a job from. */
interface QueueRules {
  retryFrom: readonly string[];
  cleanFrom: readonly string[];
  promote: boolean;
}

/**
 * The rule: no board action may move a job into a state its record does not follow. The
 * records are elsewhere (a message's in `MessageStore`, a delivery's dead letter, the
 * maintenance schedules in the workers), and the API is how they change.
 *
 * - Session queues (`out.{id}`): only finished jobs (completed, failed) may be removed: their
 *   message is final and the record says so; the job is a husk. Retrying a failed send job would
 *   send a message whose record says `failed`; promoting a delayed one would send it before its
 *   `sendAt` (or its backoff or pacing); removing an unfinished one strands its record in
 *   `queued`; pausing or resuming fights the worker, which keeps the queue paused exactly while
 *   the session cannot send.
 * - Webhooks (`{_webhooks}`): finished jobs may be removed (a failed delivery's record is its
 *   dead letter, kept longer than the job), and a delayed delivery promoted (sent now instead
 *   of after its backoff: the delivered marker still keeps it to one 2xx, with the same
 *   `webhook-id`). Retrying a failed one is refused: its dead letter would stay listed (a later
 *   replay would deliver it again) and a disabled endpoint would stay disabled; the dead-letter
 *   replay of the API does both right.
 * - Maintenance (`{_maintenance}`): a failed run may be retried (each run is idempotent
 *   periodic work) and finished runs removed; its schedules belong to the workers, which
 *   re-create them at start, so they are not changed here.
 * - Everywhere: adding, emptying, obliterating, editing jobs, pausing, tuning concurrency or
 *   rate limits, and changing job schedulers are refused (reasons below).
 */
const RULES: Record<BoardQueueKind, QueueRules> = {
  session: { retryFrom: [], cleanFrom: ['completed', 'failed'], promote: false },
  webhooks: { retryFrom: [], cleanFrom: ['completed', 'failed'], promote: true },
  maintenance: { retryFrom: ['failed'], cleanFrom: ['completed', 'failed'], promote: false },
};

/** Why an action is refused, for the person who clicked it (shown by the board). */
const REFUSALS: Record<BoardQueueKind, Partial<Record<BoardAction, string>>> = {
  session: {
    retry:
      'retrying a send job would send a message whose record says it is done; send it again as a new message',
    clean:
      'removing an unfinished send job would strand its message in "queued"; cancel it with DELETE /api/messages/:id or POST /api/clear-queue',
    promote: 'promoting a delayed send job would send it before its sendAt, backoff or pacing',
    pause:
      "a session's queue is paused exactly while the session cannot send, kept so by its worker; use POST /api/sessions/:id/recover",
    add: 'a job added here has no message record; send with POST /api/sessions/:id/messages',
    empty:
      'it would strand the record of every message in the queue; use POST /api/clear-queue or DELETE /api/sessions/:id',
    edit: 'the job would no longer say what its message record says (content, sendAt, priority)',
    tune: "a session's pacing is its rateLimit, applied by the workers",
    schedule: 'session queues have no job schedulers',
  },
  webhooks: {
    retry:
      'its dead letter would stay listed and a disabled endpoint disabled; use POST /api/webhooks/dead-letters/:id/replay',
    clean: 'removing an unfinished delivery would lose its event for that endpoint',
    pause: 'pausing would hold the deliveries of every session',
    add: 'a delivery added here has no event in the event log',
    empty: 'it would lose every delivery in the queue',
    edit: 'the delivery would no longer carry its event',
    tune: 'deliveries are paced by the workers (WEBHOOK_* settings)',
    schedule: 'the webhooks queue has no job schedulers',
  },
  maintenance: {
    retry: 'only a failed run may be retried',
    clean: "removing a scheduler's pending run stops that periodic work until a worker restarts",
    promote: 'runs follow the schedules of the workers',
    pause: 'pausing would stop the expiry sweep and the event stream trim for the whole fleet',
    add: 'maintenance jobs come from the schedules of the workers',
    empty: "it would remove the schedulers' pending runs",
    edit: 'maintenance jobs come from the schedules of the workers',
    tune: 'maintenance runs one job at a time by design',
    schedule: 'the schedules belong to the workers, which re-create them at start',
  },
};

/** Options of a queue's board adapter: what the board's UI offers (the hook enforces it). */
export function boardQueueOptions(
  kind: BoardQueueKind,
  readOnly: boolean,
): { readOnlyMode: boolean; allowRetries: boolean; allowCompletedRetries: boolean } {
  const rules = RULES[kind];
  return {
    readOnlyMode: readOnly,
    allowRetries: !readOnly && rules.retryFrom.includes('failed'),
    allowCompletedRetries: !readOnly && rules.retryFrom.includes('completed'),
  };
}

export type BoardDecision = { allowed: true } | { allowed: false; reason: string };

/**
 * Decides one board request. Reads (GET) are allowed. A write is allowed only when its action
 * is allowed on its queue's kind from the state it acts on (the status named in the route, or
 * the job's current state); an unknown job is left to bull-board (404).
 */
export async function decideBoardAction(
  ctx: HookContext,
  readOnly: boolean,
): Promise<BoardDecision> {
  if (ctx.method === 'get') return { allowed: true };
  if (readOnly) return refuse('BULL_BOARD_READ_ONLY is set: the board allows no action');
  const action = ACTIONS[`${ctx.method} ${ctx.route}`];
  if (!action) return refuse('this action is not allowed on this gateway');
  const params = (ctx.request?.params ?? {}) as Record<string, string | undefined>;
  const kind = queueKindOf(params.queueName);
  if (!kind) return refuse(`${action} is not allowed across queues`);
  const rules = RULES[kind];
  const why = (): BoardDecision =>
    refuse(`${action} refused: ${REFUSALS[kind][action] ?? 'not allowed on this queue'}`);
  if (action === 'promote') return rules.promote ? { allowed: true } : why();
  if (action !== 'retry' && action !== 'clean') return why();
  const from = action === 'retry' ? rules.retryFrom : rules.cleanFrom;
  if (from.length === 0) return why();
  const state = params.queueStatus ?? (await jobState(ctx, params));
  return state === null || from.includes(state) ? { allowed: true } : why();
}

/** The state of the job a per-job route names, or null when there is no such job. */
async function jobState(
  ctx: HookContext,
  params: Record<string, string | undefined>,
): Promise<string | null> {
  const queue = ctx.request.queues.get(params.queueName ?? '');
  const job = queue && params.jobId ? await queue.getJob(params.jobId) : null;
  return job ? job.getState() : null;
}

function refuse(reason: string): BoardDecision {
  return { allowed: false, reason };
}

/** The board's `before` handler hook: a refused action is 403 with its reason, nothing done. */
export function boardActionHook(readOnly: boolean): BeforeHook {
  return async (ctx): Promise<BeforeHookResult> => {
    const decision = await decideBoardAction(ctx, readOnly);
    return decision.allowed
      ? undefined
      : { allow: false, status: 403, errorKey: 'ERRORS.FORBIDDEN', message: decision.reason };
  };
}
