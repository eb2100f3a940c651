import { Writable } from 'node:stream';
import pino from 'pino';
import { ReplyError } from 'ioredis';
import { safeLoggerOptions } from './logger-options';
import { safeErrSerializer } from './safe-err';

const SECRET_TEXT = 'text-3f9a1c: the order ships';
const SECRET_ZIP = Buffer.from('PK\u0003\u0004 auth zip of the profile').toString('base64');

/** An error as ioredis makes it: the failed command, arguments and all, attached. */
function redisError(): Error {
  const err = new ReplyError("OOM command not allowed when used memory > 'maxmemory'.");
  Object.assign(err, {
    command: { name: 'set', args: ['wa:auth:{s}', SECRET_ZIP] },
    args: [SECRET_TEXT],
    body: { text: SECRET_TEXT },
    request: { headers: { 'x-api-key': 'key-000000000000' } },
    code: 'OOM',
  });
  return err;
}

function capture(): { logger: pino.Logger; lines: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ ...safeLoggerOptions() }, stream), lines: () => chunks.join('') };
}

describe('safeErrSerializer', () => {
  it('keeps type, message, code and stack, and drops what a library attached', () => {
    const out = safeErrSerializer(redisError()) as Record<string, unknown>;
    expect(out).toEqual({
      type: 'ReplyError',
      name: 'ReplyError',
      message: "OOM command not allowed when used memory > 'maxmemory'.",
      code: 'OOM',
      stack: expect.stringContaining('ReplyError'),
    });
  });

  it('never writes command arguments, bodies or keys through a logger, nested or not', () => {
    const { logger, lines } = capture();
    const err = redisError();
    logger.error({ err }, 'save failed');
    logger.error({ error: err, sessionId: 's' }, 'save failed');
    logger.error(err, 'as the first argument');
    logger.error({ err: new Error('outer', { cause: err }) }, 'with a cause');
    logger.info(
      {
        req: { headers: { 'x-api-key': 'key-000000000000', authorization: 'Basic abc' } },
        webhook: { url: 'https://example.com', secret: 'whsec-1' },
        authData: SECRET_ZIP,
        content: { text: SECRET_TEXT },
      },
      'objects',
    );
    const text = lines();
    expect(text).toContain('OOM command not allowed');
    expect(text).toContain('"sessionId":"s"');
    for (const secret of [SECRET_TEXT, SECRET_ZIP, 'key-000000000000', 'Basic abc', 'whsec-1']) {
      expect(text).not.toContain(secret);
    }
  });

  it('accepts an error already serialized by pino-std-serializers (as pino-http hands it)', () => {
    const std = pino.stdSerializers.err(redisError()) as unknown as Record<string, unknown>;
    expect(std.command).toBeDefined(); // what the standard serializer would have written
    const out = safeErrSerializer(std) as Record<string, unknown>;
    expect(JSON.stringify(out)).not.toContain(SECRET_ZIP);
    expect(out.message).toMatch(/OOM/);
  });

  it('truncates very long messages and passes plain values through', () => {
    const out = safeErrSerializer(new Error('x'.repeat(10000))) as { message: string };
    expect(out.message.length).toBeLessThan(2100);
    expect(safeErrSerializer('just a message')).toBe('just a message');
    expect(safeErrSerializer(undefined)).toBeUndefined();
  });
});
