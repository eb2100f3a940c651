import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorState } from './accounts';
import {
  deviceIdOf,
  incomingOf,
  integerIn,
  numberRulesOf,
  optionalBoolean,
  optionalText,
  phoneOf,
  requiredText,
  type Body,
} from './control-input';
import { EmulatorError } from './errors';
import { decodePathPart, readJson, requestUrl, sendError, sendJson } from './http-util';
import { SEND_FAULT_MODES, type SendFaultMode } from './send-faults';

type Route = {
  method: string;
  pattern: RegExp;
  handle: (state: EmulatorState, params: string[], body: Body, query: URLSearchParams) => unknown;
};

const linkOptions = (b: Body) => ({
  pushname: optionalText(b, 'pushname'),
  takeover: optionalBoolean(b, 'takeover') ?? false,
});

/** The control API: the phone, the network and the test drive the emulator through these. */
const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/control\/devices$/, handle: (s) => s.listDevices() },
  {
    method: 'POST',
    pattern: /^\/control\/scan$/,
    handle: (s, _p, b) => {
      const { pushname, takeover } = linkOptions(b);
      return s.scan(requiredText(b, 'qr'), phoneOf(b.phone), pushname, takeover);
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/pairing$/,
    handle: (s, _p, b) => s.pairing(requiredText(b, 'code')),
  },
  {
    method: 'POST',
    pattern: /^\/control\/devices\/([^/]+)\/link$/,
    handle: (s, [id], b) => {
      const { pushname, takeover } = linkOptions(b);
      s.link(deviceIdOf(id), phoneOf(b.phone), pushname, takeover);
      return { deviceId: id };
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/devices\/([^/]+)\/state$/,
    handle: (s, [id], b) => {
      const state = requiredText(b, 'state');
      if (!/^[A-Z_]{1,40}$/.test(state))
        throw new EmulatorError(400, 'bad_request', 'state must be a Socket state (UPPER_CASE)');
      s.setState(deviceIdOf(id), state);
      return { deviceId: id };
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/devices\/([^/]+)\/freeze$/,
    handle: (s, [id]) => {
      s.freeze(deviceIdOf(id));
      return { deviceId: id };
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/devices\/([^/]+)\/reload$/,
    handle: (s, [id]) => {
      s.reload(deviceIdOf(id));
      return { deviceId: id };
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/accounts\/([^/]+)\/unlink$/,
    handle: (s, [phone]) => s.unlink(phoneOf(phone)),
  },
  {
    method: 'POST',
    pattern: /^\/control\/accounts\/([^/]+)\/incoming$/,
    handle: (s, [phone], b) => s.incoming(phoneOf(phone), incomingOf(b)),
  },
  {
    method: 'PUT',
    pattern: /^\/control\/accounts\/([^/]+)\/send-fault$/,
    handle: (s, [phoneParam], b) => {
      const phone = phoneOf(phoneParam);
      const mode = b.mode as SendFaultMode;
      if (!SEND_FAULT_MODES.includes(mode))
        throw new EmulatorError(
          400,
          'bad_request',
          `mode must be one of ${SEND_FAULT_MODES.join(', ')}`,
        );
      const count = integerIn(b, 'count', 1, Number.MAX_SAFE_INTEGER, false);
      s.faults.set(phone, mode, count);
      return { phone, mode, count: count ?? null };
    },
  },
  {
    method: 'POST',
    pattern: /^\/control\/accounts\/([^/]+)\/ack$/,
    handle: (s, [phone], b) => {
      const ack = integerIn(b, 'ack', -1, 4, true)!;
      const waMessageId = requiredText(b, 'waMessageId');
      s.ack(phoneOf(phone), waMessageId, ack);
      return { waMessageId, ack };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/control\/numbers$/,
    handle: (s, _p, b) => {
      s.setNumbers(numberRulesOf(b));
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
    handle: (s, _p, _b, q) => {
      const phone = q.get('phone');
      const after = q.get('after');
      if (after !== null && !/^\d{1,15}$/.test(after))
        throw new EmulatorError(400, 'bad_request', 'after must be a sequence number');
      return s.sent(phone ? phoneOf(phone) : undefined, Number(after ?? 0));
    },
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
