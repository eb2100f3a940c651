export * from './net/address-policy';
export * from './net/url-host-policy';
export * from './log/safe-err';
export * from './log/redaction';
export * from './log/logger-options';
// Bounded waits and Lua commands: one helper each, used by every lib and app.
export * from './util/timeout';
export * from './redis/lua-command';
