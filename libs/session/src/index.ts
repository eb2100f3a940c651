// The import surface of the session library: the driver contract (SessionDriver, its types and
// errors, the error classifier), the session store and purger, and the read side of the
// simulator's outbox. No driver code: the drivers have their own entry point,
// `@app/session/drivers` (./drivers/index.ts), that only the worker imports; lint forbids it
// in the gateway.
export * from './session.types';
export * from './session.errors';
export * from './error-classifier';
export * from './session-driver';
export * from './incoming';
export * from './simulator-incoming-requests';
export * from './incoming-media-transfer';
export * from './session-store';
export * from './session-purge';
export * from './contact-cache';
export * from './simulator-outbox-reader';
export type { MediaLimits } from './media';
