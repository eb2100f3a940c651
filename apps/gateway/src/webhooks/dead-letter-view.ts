import type { WebhookDeadLetter } from '@app/queue';

/**
 * A URL as an operator may see it: scheme, host, port and path. Credentials, the query string
 * and the fragment can hold tokens; an unparsable URL shows as nothing rather than raw.
 */
export function displayUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '';
  }
}

/** A dead letter as the API shows it. */
export function deadLetterView(letter: WebhookDeadLetter) {
  return {
    id: letter.id,
    session: letter.session,
    event: letter.event,
    endpoint: { kind: letter.endpoint.kind, url: displayUrl(letter.endpoint.url) },
    attempts: letter.attempts,
    reason: letter.reason,
    deadAt: letter.deadAt,
    replays: letter.replays,
  };
}

export type DeadLetterView = ReturnType<typeof deadLetterView>;
