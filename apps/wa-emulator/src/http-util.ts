import type { IncomingMessage, ServerResponse } from 'node:http';
import { EmulatorError } from './errors';

/** Media arrives base64 inside JSON bodies: generous, but bounded. */
const MAX_BODY_BYTES = 100 * 1024 * 1024;

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new EmulatorError(413, 'too_large', 'request body too large');
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

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof EmulatorError) {
    sendJson(res, err.status, { error: { code: err.code, message: err.message } });
    return;
  }
  sendJson(res, 500, {
    error: { code: 'internal', message: (err as Error)?.message ?? String(err) },
  });
}
