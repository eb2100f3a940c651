import type { Redis } from 'ioredis';
import type { RedisKeys } from '@app/queue';
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

  async link(phone: string): Promise<void> {
    await this.redis.hset(this.key, { linked: '1', phone });
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
