import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorState, IncomingParams, NumberRule } from './accounts';
import { EmulatorError } from './errors';
import { decodePathPart, readJson, requestUrl, sendError, sendJson } from './http-util';
import { SEND_FAULT_MODES, type SendFaultMode } from './send-faults';

type Body = Record<string, unknown>;
type Route = {
  method: string;
  pattern: RegExp;
  handle: (state: EmulatorState, params: string[], body: Body, query: URLSearchParams) => unknown;
};

const text = (body: Body, key: string): string => {
  const value = body[key];
  if (typeof value !== 'string' || !value)
    throw new EmulatorError(400, 'bad_request', `${key} must be a non-empty string`);
  return value;
};

/** The control API: the phone, the network and the test drive the emulator through these. */
const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/control\/devices$/, handle: (s) => s.listDevices() },
  {
    method: 'POST',
    pattern: /^\/control\/scan$/,
    handle: (s, _p, b) =>
      s.scan(
        text(b, 'qr'),
        text(b, 'phone'),
        b.pushname as string | undefined,
        b.takeover === true,
      ),
  },
  {
    method: 'POST',
    pattern: /^\/control\/pairing$/,
    handle: (s, _p, b) => s.pairing(text(b, 'code')),
  },
  {
    method: 'POST',
    pattern: /^\/control\/devices\/([^/]+)\/link$/,
    handle: (s, [id], b) => {
      s.link(id, text(b, 'phone'), b.pushname as string | undefined, b.takeover === true);
      return { deviceId: id };
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/devices\/([^/]+)\/state$/,
    handle: (s, [id], b) => {
      s.setState(id, text(b, 'state'));
      return { deviceId: id };
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/devices\/([^/]+)\/freeze$/,
    handle: (s, [id]) => {
      s.freeze(id);
      return { deviceId: id };
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/devices\/([^/]+)\/reload$/,
    handle: (s, [id]) => {
      s.reload(id);
      return { deviceId: id };
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/accounts\/([^/]+)\/unlink$/,
    handle: (s, [phone]) => s.unlink(phone),
  },
  {
    method: 'POST',
    pattern: /^\/control\/accounts\/([^/]+)\/incoming$/,
    handle: (s, [phone], b) => s.incoming(phone, b as unknown as IncomingParams),
  },
  {
    method: 'PUT',
    pattern: /^\/control\/accounts\/([^/]+)\/send-fault$/,
    handle: (s, [phone], b) => {
      const mode = b.mode as SendFaultMode;
      if (!SEND_FAULT_MODES.includes(mode))
        throw new EmulatorError(
          400,
          'bad_request',
          `mode must be one of ${SEND_FAULT_MODES.join(', ')}`,
        );
      const count = b.count === undefined ? undefined : Number(b.count);
      if (count !== undefined && !(Number.isInteger(count) && count > 0))
        throw new EmulatorError(400, 'bad_request', 'count must be a positive integer');
      s.faults.set(phone.replace(/\D/g, ''), mode, count);
      return { phone, mode, count: count ?? null };
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/accounts\/([^/]+)\/ack$/,
    handle: (s, [phone], b) => {
      const ack = Number(b.ack);
      if (!Number.isInteger(ack) || ack < -1 || ack > 4)
        throw new EmulatorError(400, 'bad_request', 'ack must be an integer from -1 to 4');
      s.ack(phone, text(b, 'waMessageId'), ack);
      return { waMessageId: b.waMessageId, ack };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/control\/numbers$/,
    handle: (s, _p, b) => {
      s.setNumbers(b as Record<string, NumberRule>);
      return {};
    },
  },
  {
    method: 'PUT',
    pattern: /^\/control\/settings$/,
    handle: (s, _p, b) => s.updateSettings(b),
  },
  {
    method: 'GET',
    pattern: /^\/control\/sent$/,
    handle: (s, _p, _b, q) => s.sent(q.get('phone') ?? undefined, Number(q.get('after') ?? 0) || 0),
  },
  {
    method: 'POST',
    pattern: /^\/control\/reset$/,
    handle: (s) => {
      s.reset();
      return {};
    },
  },
];

export async function handleControl(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const url = requestUrl(req, 'http://x');
    let pathMatched = false;
    for (const route of ROUTES) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      const body = req.method === 'GET' ? {} : await readJson(req);
      const params = match.slice(1).map(decodePathPart);
      sendJson(res, 200, route.handle(state, params, body, url.searchParams));
      return;
    }
    throw pathMatched
      ? new EmulatorError(405, 'method_not_allowed', `${req.method} not allowed here`)
      : new EmulatorError(404, 'not_found', `no control route ${url.pathname}`);
  } catch (err) {
    sendError(res, err);
  }
}
