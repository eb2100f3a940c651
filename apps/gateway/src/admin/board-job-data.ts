import { urlForPeople } from '@app/core';

/** Keys whose values are what people wrote or sent (message text, captions, inline files). */
const CONTENT_KEYS = new Set(['text', 'caption', 'base64']);
/** Keys holding URLs, whose credentials and query strings (presigned tokens) are not shown. */
const URL_KEYS = new Set(['url']);

/**
 * What the board shows of a job's data: everything but message content, which is replaced by
 * its length. A send job carries its message (text, inline media: megabytes) and a delivery
 * its event (an incoming message's text); the API itself never answers with either, and an API
 * key should not read through the board what it cannot read through the API.
 */
export function redactJobData(data: unknown): unknown {
  if (Array.isArray(data)) return data.map(redactJobData);
  if (data === null || typeof data !== 'object') return data;
  return Object.fromEntries(
    Object.entries(data as Record<string, unknown>).map(([key, value]) => [
      key,
      typeof value === 'string' && CONTENT_KEYS.has(key)
        ? `[${value.length} characters]`
        : typeof value === 'string' && URL_KEYS.has(key)
          ? urlForPeople(value)
          : redactJobData(value),
    ]),
  );
}
