/**
 * Commands from the gateway to whichever worker owns a session, over Redis pub/sub, answered
 * on the asking gateway's reply channel. Only the owner answers; no answer means no live owner.
 */
export type ControlCommand =
  | { command: 'recover' }
  | { command: 'stop'; logout: boolean }
  | { command: 'fault'; type: string; durationMs?: number }
  | { command: 'pairing-code'; phone: string }
  | { command: 'check-number'; chatId: string }
  /** The simulator receives the request stored under this WhatsApp id (SimulatorIncomingRequests). */
  | { command: 'simulate-incoming'; waMessageId: string }
  /** Download an incoming message's media into the hand-over hash named by `token`. */
  | { command: 'incoming-media'; waMessageId: string; token: string };

export type ControlRequest = ControlCommand & {
  id: string;
  sessionId: string;
  /** The gateway process that waits for the answer. */
  replyTo: string;
};

export type ControlReply =
  | { id: string; ok: true; result: unknown; workerId: string }
  | { id: string; ok: false; error: { code: string; message: string }; workerId: string };
