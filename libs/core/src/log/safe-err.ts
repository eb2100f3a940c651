/**
 * The one pino `err` serializer of every process. pino's standard serializer copies every
 * enumerable property of an error, and ioredis attaches the failed command to its errors
 * (`err.command = {name, args}`): a failed save of a WhatsApp auth backup put the whole zip in a
 * log line, a refused message write its text, media and webhook secret. Other libraries attach
 * requests, bodies, options or responses the same way. So this keeps a short list of fields
 * that describe a failure and drops everything else, whatever the error carries.
 */

/** Longest message or stack kept: enough to read a failure, too short to carry a payload. */
const MAX_TEXT = 2000;

export interface SafeErr {
  type?: string;
  name?: string;
  message?: string;
  code?: string | number;
  statusCode?: number;
  stack?: string;
  cause?: SafeErr;
  errors?: SafeErr[];
}

function text(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.length > MAX_TEXT ? `${value.slice(0, MAX_TEXT)}… (truncated)` : value;
}

function serialize(err: unknown, depth: number): SafeErr | string | undefined {
  if (err === null || err === undefined) return undefined;
  if (typeof err === 'string') return text(err);
  if (typeof err === 'number' || typeof err === 'boolean') return String(err);
  if (typeof err !== 'object') return undefined;
  const e = err as Record<string, unknown>;
  const ctor = (err as { constructor?: { name?: unknown } }).constructor?.name;
  const out: SafeErr = {};
  const type = text(e.type) ?? (typeof ctor === 'string' && ctor !== 'Object' ? ctor : undefined);
  if (type) out.type = type;
  const name = text(e.name);
  if (name) out.name = name;
  const message = text(e.message);
  if (message !== undefined) out.message = message;
  if (typeof e.code === 'string' || typeof e.code === 'number') {
    out.code = typeof e.code === 'string' ? text(e.code) : e.code;
  }
  if (typeof e.statusCode === 'number') out.statusCode = e.statusCode;
  const stack = text(e.stack);
  if (stack) out.stack = stack;
  if (depth < 3) {
    // pino's standard serializer folds causes into message and stack; the raw error keeps them.
    const cause = e.cause instanceof Error ? serialize(e.cause, depth + 1) : undefined;
    if (cause && typeof cause === 'object') out.cause = cause;
    const list = Array.isArray(e.errors)
      ? e.errors
      : Array.isArray(e.aggregateErrors)
        ? e.aggregateErrors
        : undefined;
    if (list) {
      out.errors = list
        .slice(0, 10)
        .map((x) => serialize(x, depth + 1))
        .filter((x): x is SafeErr => !!x && typeof x === 'object');
    }
  }
  return out;
}

/**
 * Name, message, code and stack of an error; never the command arguments, request, body, auth
 * data or keys some libraries attach to it. Takes a raw error or one already serialized by
 * pino-std-serializers (pino-http wraps custom serializers around the standard one).
 */
export function safeErrSerializer(err: unknown): unknown {
  return serialize(err, 0);
}
