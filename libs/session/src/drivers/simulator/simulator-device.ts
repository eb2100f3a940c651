import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/core';
import type { FaultType } from '../../session.types';

/**
 * The simulator's "phone": whether the session is linked, and a fault that persists across
 * restarts (a browser that keeps crashing for `durationMs`). Kept in Redis, like the real
 * driver's auth store, so any worker that adopts the session sees the same device.
 */
export interface DeviceState {
  linked: boolean;
  phone: string | null;
  fault: FaultType | null;
  faultUntil: number;
}

/**
 * Opens the session as `client`, as WhatsApp lets one client per linked device: the previous
 * client is superseded (its sends are refused from now on). Fenced: only the lease holder may
 * take the device over. KEYS: device, lease. ARGV: client id, lease value ('' = no fence).
 */
const OPEN_LUA = `
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'client', ARGV[1])
return 1
`;

export class SimulatorDevice {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly sessionId: string,
  ) {}

  private get key(): string {
    return this.keys.simulatorDevice(this.sessionId);
  }

  async read(): Promise<DeviceState> {
    const h = await this.redis.hgetall(this.key);
    return {
      linked: h.linked === '1',
      phone: h.phone || null,
      fault: (h.fault as FaultType) || null,
      faultUntil: Number(h.faultUntil ?? 0),
    };
  }

  async link(phone: string, client: string): Promise<void> {
    await this.redis.hset(this.key, { linked: '1', phone, client });
  }
  /** Takes the device over for `client`; false when `fence` (the lease) is not current. */
  async open(client: string, fence?: { key: string; value: string }): Promise<boolean> {
    const opened = await this.redis.eval(
      OPEN_LUA,
      2,
      this.key,
      fence?.key ?? this.keys.lease(this.sessionId),
      client,
      fence?.value ?? '',
    );
    return opened === 1;
  }

  async unlink(): Promise<void> {
    await this.redis.hset(this.key, { linked: '0' });
  }

  async setFault(fault: FaultType, until: number): Promise<void> {
    await this.redis.hset(this.key, { fault, faultUntil: String(until) });
  }

  async clearFault(): Promise<void> {
    await this.redis.hdel(this.key, 'fault', 'faultUntil');
  }

  async forget(): Promise<void> {
    await this.redis.del(this.key);
  }
}
