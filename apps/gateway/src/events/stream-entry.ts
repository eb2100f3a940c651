import type { EventType, GatewayEvent } from '@app/core';
import { eventFrame } from './sse-frames';

/** One event as the live stream handles it: what filters look at, and its frame, made once. */
export interface StreamEntry {
  position: string;
  session: string;
  type: EventType;
  /** The SSE frame, shared by every client it goes to (500 clients: one string, not 500). */
  frame: string;
}

/** `json` is the event as the stream holds it, when at hand (no second JSON.stringify). */
export function toStreamEntry(
  position: string,
  event: GatewayEvent,
  json = JSON.stringify(event),
): StreamEntry {
  return {
    position,
    session: event.session,
    type: event.type,
    frame: eventFrame(position, event.type, json),
  };
}
