/**
 * The Server-Sent Events wire format (WHATWG HTML, "Server-sent events"): fields one a line,
 * an event ends with a blank line, a line starting with `:` is a comment.
 */

/** First frame: how long `EventSource` waits before reconnecting. */
export function retryFrame(ms: number): string {
  return `retry: ${ms}\n\n`;
}

/** A comment: keeps proxies from closing an idle connection; `EventSource` ignores it. */
export const PING_FRAME = ': ping\n\n';

/** One event: `id` is its stream position, what `Last-Event-ID` resumes from. */
export function eventFrame(position: string, type: string, json: string): string {
  return `id: ${position}\nevent: ${type}\n${dataLines(json)}\n`;
}

/**
 * Tells a resuming client that events after its id are gone (the stream was trimmed): what
 * follows starts at the oldest event kept. No `id`, so the client's resume point moves only
 * with the events themselves.
 */
export function resetFrame(oldest: string | null): string {
  const data = {
    code: 'EVENTS_TRIMMED',
    message: 'Some events after Last-Event-ID are no longer kept; replaying from the oldest kept',
    oldest,
  };
  return `event: reset\n${dataLines(JSON.stringify(data))}\n`;
}

/** `data:` lines; a line break inside the payload starts a new one (JSON text has none). */
function dataLines(payload: string): string {
  return payload
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join('');
}
