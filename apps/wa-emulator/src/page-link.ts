import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorState, PageLink, Push, SendParams } from './accounts';
import { EmulatorError } from './errors';
import { readJson, requestUrl, sendJson } from './http-util';

/**
 * The page's side of the wire: `GET /emu/link?device=<id>` (an SSE stream of pushes) and
 * `POST /emu/rpc {deviceId, method, params}` -> `{result}` | `{error}` (page/runtime.js rpc()).
 */
export function openLink(state: EmulatorState, req: IncomingMessage, res: ServerResponse): void {
  const deviceId = requestUrl(req, 'https://x').searchParams.get('device');
  if (!deviceId) {
    sendJson(res, 400, { error: { code: 'bad_request', message: 'device is required' } });
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  const link: PageLink = {
    push: (push: Push) => {
      res.write(`data: ${JSON.stringify(push)}\n\n`);
    },
    close: () => res.end(),
  };
  res.on('close', () => state.detachLink(deviceId, link));
  state.attachLink(deviceId, link);
}

type RpcHandler = (
  state: EmulatorState,
  deviceId: string,
  params: Record<string, unknown>,
) => unknown;

const str = (params: Record<string, unknown>, key: string): string => {
  const value = params[key];
  if (typeof value !== 'string')
    throw new EmulatorError(400, 'bad_request', `${key} must be a string`);
  return value;
};

/** Page -> server calls (the modules in page/*.js make them). */
const RPC_HANDLERS = new Map<string, RpcHandler>(
  Object.entries({
    sendFault: (state, deviceId) => ({ result: state.takeSendFault(deviceId) }),
    send: (state, deviceId, params) => ({
      result: state.send(deviceId, params as unknown as SendParams),
    }),
    queryExists: (state, _deviceId, params) => ({
      result: state.queryExists(str(params, 'number')),
    }),
    requestPairingCode: (state, deviceId, params) => ({
      result: state.requestPairingCode(deviceId, str(params, 'phone')),
    }),
    logout: (state, deviceId) => {
      state.pageLogout(deviceId);
      return { result: {} };
    },
    takeover: (state, deviceId) => {
      state.takeover(deviceId);
      return { result: {} };
    },
    refreshQR: (state, deviceId) => {
      state.refreshQr(deviceId);
      return { result: {} };
    },
    history: (state, deviceId, params) => ({
      result: state.history(
        deviceId,
        params.chat === undefined ? undefined : str(params, 'chat'),
        typeof params.limit === 'number' && params.limit > 0 ? params.limit : undefined,
      ),
    }),
    delivered: (state, deviceId, params) => {
      state.confirmDelivered(deviceId, Array.isArray(params.ids) ? params.ids.map(String) : []);
      return { result: {} };
    },
    acked: (state, deviceId, params) => {
      const acks: unknown[] = Array.isArray(params.acks) ? (params.acks as unknown[]) : [];
      state.confirmAcks(deviceId, acks.filter(isAckConfirm));
      return { result: {} };
    },
    getMessages: (state, deviceId, params) => ({
      result: state.getMessages(deviceId, Array.isArray(params.ids) ? params.ids.map(String) : []),
    }),
  } satisfies Record<string, RpcHandler>),
);

export async function handleRpc(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const body = await readJson(req);
    const method = typeof body.method === 'string' ? body.method : '';
    // A Map, not an object lookup: `constructor` or `__proto__` must not reach a prototype.
    const handler = RPC_HANDLERS.get(method);
    if (!handler) {
      // Not a page's call (the page only makes known ones): a plain HTTP 400.
      sendJson(res, 400, {
        error: { code: 'unknown_method', message: `unknown rpc ${method.slice(0, 64)}` },
      });
      return;
    }
    const deviceId = typeof body.deviceId === 'string' ? body.deviceId : '';
    const params = body.params ?? {};
    if (typeof params !== 'object' || params === null || Array.isArray(params))
      throw new EmulatorError(400, 'bad_request', 'params must be an object');
    sendJson(res, 200, handler(state, deviceId, params as Record<string, unknown>));
  } catch (err) {
    // The page rejects with the message; the status stays 200 so fetch() hands it the body.
    const e = err instanceof EmulatorError ? err : new EmulatorError(500, 'internal', String(err));
    sendJson(res, e.status === 413 ? 413 : 200, { error: { code: e.code, message: e.message } });
  }
}

/** One entry of the page's `acked` RPC. */
function isAckConfirm(a: unknown): a is { id: string; ack: number } {
  const entry = a as { id?: unknown; ack?: unknown } | null;
  return typeof entry?.id === 'string' && typeof entry.ack === 'number';
}
