// The only import surface of the session library. It exports no driver class: the worker gets
// drivers through createSessionDriver, and the gateway never touches one.
export * from './session.types';
export * from './session.errors';
export * from './error-classifier';
export * from './session-driver';
export * from './session-store';
export * from './driver-factory';
export { SimulatorOutbox, type OutboxEntry } from './drivers/simulator/simulator-outbox';
export type {
  WwebjsClientFactory,
  WwebjsClient,
  WwebjsClientOptions,
} from './drivers/wwebjs/wwebjs-client';
export * from './session-purge';
export type { MediaLimits } from './media';
