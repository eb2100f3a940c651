export * from './net/address-policy';
export * from './net/url-host-policy';
export * from './log/safe-err';
export * from './log/redaction';
export * from './log/logger-options';
