import type { IncomingMessage, ServerResponse } from 'node:http';
import { EmulatorError } from './errors';

/**
 * Media arrives base64 inside JSON bodies: a 5 MB file (what the media specs send) is ~7 MB of
 * JSON. Bounded per request so a runaway client cannot make the emulator buffer without end.
 */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

function tooLarge(req: IncomingMessage): EmulatorError {
  // Nothing more of this body is read: the answer (413) goes out with `connection: close`.
  req.pause();
  return new EmulatorError(413, 'too_large', `request body over ${MAX_BODY_BYTES} bytes`);
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) throw tooLarge(req);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw tooLarge(req);
    chunks.push(chunk as Buffer);
  }
  if (!size) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new EmulatorError(400, 'bad_json', 'body must be a JSON object');
}

/** A request's URL; a target that does not parse is the client's error (400), not ours. */
export function requestUrl(req: IncomingMessage, base: string): URL {
  try {
    return new URL(req.url ?? '/', base);
  } catch {
    throw new EmulatorError(400, 'bad_url', 'the request target is not a valid URL');
  }
}

/** decodeURIComponent, with a malformed percent-encoding answered 400 instead of thrown raw. */
export function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new EmulatorError(400, 'bad_encoding', 'malformed percent-encoding in the path');
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    // A body refused half-read: the connection cannot carry another request, so it ends here.
    ...(status === 413 ? { connection: 'close' } : {}),
  });
  res.end(text);
  if (status === 413) res.once('finish', () => res.req.socket?.destroy());
}

/**
 * Answers an error as `{error: {code, message}}`: an EmulatorError with its status, anything
 * else (a bug of ours) 500. A response already under way cannot change its status: it is cut.
 */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof EmulatorError) {
    sendJson(res, err.status, { error: { code: err.code, message: err.message } });
    return;
  }
  sendJson(res, 500, {
    error: { code: 'internal', message: (err as Error)?.message ?? String(err) },
  });
}
