import { ConfigError, EnvReader } from '@app/core';
import { loadGatewayConfig } from './gateway.config';

const load = (env: Record<string, string>) => loadGatewayConfig(new EnvReader(env));

describe('TRUST_PROXY', () => {
  it('trusts no proxy by default: the peer address is the client', () => {
    expect(load({}).trustProxy).toBe(false);
    expect(load({ TRUST_PROXY: 'off' }).trustProxy).toBe(false);
  });

  it('takes true, or proxy addresses and CIDRs', () => {
    expect(load({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(load({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1' }).trustProxy).toBe(
      '10.0.0.0/8,127.0.0.1,::1',
    );
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => load({ TRUST_PROXY: 'everyone' })).toThrow(ConfigError);
    expect(() => load({ TRUST_PROXY: 'everyone' })).toThrow(/TRUST_PROXY/);
  });
});

describe('BULL_BOARD_READ_ONLY', () => {
  it('leaves the board its allowed actions by default, and takes them all away when set', () => {
    expect(load({}).bullBoardReadOnly).toBe(false);
    expect(load({ BULL_BOARD_READ_ONLY: 'true' }).bullBoardReadOnly).toBe(true);
    expect(() => load({ BULL_BOARD_READ_ONLY: 'maybe' })).toThrow(/BULL_BOARD_READ_ONLY/);
  });
});

describe('EVENTS_HEARTBEAT_MS', () => {
  it('pings every 15 s by default and takes another interval', () => {
    expect(load({}).eventsHeartbeatMs).toBe(15000);
    expect(load({ EVENTS_HEARTBEAT_MS: '250' }).eventsHeartbeatMs).toBe(250);
  });

  it('refuses what is not a sensible interval, naming the variable', () => {
    for (const bad of ['0', '-5', 'soon', '99', '600001']) {
      expect(() => load({ EVENTS_HEARTBEAT_MS: bad })).toThrow(/EVENTS_HEARTBEAT_MS/);
    }
  });
});
