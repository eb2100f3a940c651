import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Deepest nesting of arrays and objects a body may have; ours need 4. */
export const MAX_JSON_DEPTH = 32;

/**
 * Nesting depth of a JSON text, scanned without parsing (strings and escapes skipped). Stops
 * as soon as `limit` is passed, so a body of ten thousand `[` costs nothing; JSON.parse and the
 * validators would otherwise walk it recursively (and blow the stack: 500).
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > limit) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      depth--;
    }
  }
  return false;
}

function failure(message: string, code: string, statusCode: number): Error {
  return Object.assign(new Error(message), { code, statusCode });
}

/** The charset parameter of a Content-Type, lower case, or undefined. */
export function charsetOf(contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*("?)([^";\s]+)\1/i.exec(contentType ?? '');
  return m?.[2].toLowerCase();
}

/**
 * Replaces Fastify's JSON parser with one that refuses, before parsing, a charset other than
 * UTF-8 (415: the body would be read as UTF-8 regardless) and nesting deeper than
 * {@link MAX_JSON_DEPTH} (400 BODY_TOO_DEEP), then parses with Fastify's own parser (which
 * keeps its `__proto__` / `constructor` poisoning checks).
 */
export function installJsonBodyParser(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (
      req: FastifyRequest,
      body: string | Buffer,
      done: (err: Error | null, body?: unknown) => void,
    ) => {
      const charset = charsetOf(req.headers['content-type']);
      if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
        done(failure(`Unsupported charset ${charset}`, 'UNSUPPORTED_CHARSET', 415));
        return;
      }
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
        done(
          failure(
            `The body nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels`,
            'BODY_TOO_DEEP',
            400,
          ),
        );
        return;
      }
      void parse(req, text, done);
    },
  );
}
