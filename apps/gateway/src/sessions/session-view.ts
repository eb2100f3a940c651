import type { QueueCounts } from '@app/queue';
import type { SessionLease, StoredSession } from '@app/session';
import { webhookView } from '../webhooks/webhook-endpoint';

/** The session object of the contract, composed from config, reported state, lease and queue. */
export function sessionView(
  stored: StoredSession,
  owner: SessionLease | null,
  counts: QueueCounts,
) {
  const { config, state } = stored;
  // A session no live worker owns is `starting` with worker null, whatever was last reported.
  const status = owner ? state.status : 'starting';
  return {
    id: config.id,
    driver: config.driver,
    status,
    phone: state.phone,
    worker: owner?.workerId ?? null,
    health: owner ? state.health : { ...state.health, healthy: false },
    lastError: state.lastError,
    restartInProgress: owner ? state.restartInProgress : false,
    memoryMb: owner ? (state.memoryMb ?? null) : null,
    queue: { ...counts, paused: counts.paused || status !== 'ready' },
    rateLimit: config.rateLimit,
    webhook: webhookView(config.webhook),
    simulator: config.simulator,
    createdAt: config.createdAt,
    updatedAt: state.updatedAt,
  };
}

export type SessionView = ReturnType<typeof sessionView>;
