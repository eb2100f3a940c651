'use strict';
// How `npm start` shows its children's logs. The apps always write JSON lines (what production
// ships to a log store and what the tests read); under `npm start` a person reads them, so each
// line goes through pino-pretty here, in the parent, and the apps stay as they are.

const FORMATS = ['pretty', 'json'];

/** LOG_FORMAT [pretty]: `json` shows the apps' lines as they are. Exits 78 on any other value. */
function logFormat(env = process.env) {
  const value = (env.LOG_FORMAT ?? '').trim() || 'pretty';
  if (!FORMATS.includes(value)) {
    process.stderr.write(`LOG_FORMAT must be one of ${FORMATS.join(', ')} (got "${value}")\n`);
    process.exit(78); // EX_CONFIG, as the apps exit on a bad variable
  }
  return value;
}

/** The fields a person does not need on every line (the prefix already names the process). */
const HIDDEN = 'pid,hostname,service,workerId,context,req,res,responseTime';

/**
 * A function from one log line to the text to print (ending in a newline): a JSON line becomes
 * `12:03:04.567 INFO: message accepted {"reqId":"…","sessionId":"demo","messageId":"msg_…"}`,
 * a request's closing line `GET /api/sessions → 200 (3 ms)`; anything else passes as it is.
 * With `json`, or when pino-pretty is not installed (a production install), lines pass as they are.
 */
function lineFormatter(format, { colorize = false } = {}) {
  const asIs = (line) => `${line}\n`;
  if (format !== 'pretty') return asIs;
  let prettyFactory;
  try {
    ({ prettyFactory } = require('pino-pretty'));
  } catch {
    return asIs;
  }
  // Values already redacted by the apps (pino's redact, the safe err serializer): pretty
  // printing formats what the JSON line holds, nothing more.
  return prettyFactory({
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: HIDDEN,
    messageFormat: (log, messageKey) => {
      const req = log.req;
      const res = log.res;
      if (req && res)
        return `${req.method} ${req.url} → ${res.statusCode} (${log.responseTime} ms)`;
      return `${log.context ? `[${log.context}] ` : ''}${log[messageKey] ?? ''}`;
    },
  });
}

module.exports = { logFormat, lineFormatter };
