import { urlForPeople } from '@app/core';
import type { WebhookDeadLetter } from '@app/queue';

/** A dead letter as the API shows it. */
export function deadLetterView(letter: WebhookDeadLetter) {
  return {
    id: letter.id,
    session: letter.session,
    event: letter.event,
    endpoint: { kind: letter.endpoint.kind, url: urlForPeople(letter.endpoint.url) },
    attempts: letter.attempts,
    reason: letter.reason,
    deadAt: letter.deadAt,
    replays: letter.replays,
  };
}

export type DeadLetterView = ReturnType<typeof deadLetterView>;
