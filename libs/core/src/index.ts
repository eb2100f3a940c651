export * from './net/address-policy';
export * from './net/url-host-policy';
export * from './net/pinned-address';
export * from './log/safe-err';
export * from './log/redaction';
export * from './log/logger-options';
// Config, Redis connections and key names, control-plane and event types: what both apps share
// below the domain.
export * from './config/env';
export * from './redis/redis-connection';
export * from './redis/redis-url';
export * from './redis/redis-durability';
export * from './redis/redis-keys';
export * from './control/control';
export * from './events/event.types';
export * from './events/event-log';
export * from './redis/redis-lifecycle';
export * from './module/tokens';
// Bounded waits and Lua commands: one helper each, used by every lib and app.
export * from './util/timeout';
export * from './redis/lua-command';
// The process's Prometheus registry (one per process; each app exposes it on /metrics).
export * from './metrics/process.metrics';
export * from './metrics/scrape-auth';
// Last: the core module reaches up to @app/queue and @app/session, which import the exports above.
export * from './module/core.module';
