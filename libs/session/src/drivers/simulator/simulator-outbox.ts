import type { Redis } from 'ioredis';
import { defineLuaCommand, type LuaCommand, type RedisKeys } from '@app/core';
import { SimulatorOutboxReader, type OutboxEntry } from '../../simulator-outbox-reader';

/**
 * KEYS: list, index, sends, device. ARGV: send id, message id, entry JSON, client id ('' = any).
 * Same slot (hash tag). -1: the sending client was superseded (WhatsApp's CONFLICT: another
 * client opened the device), nothing recorded; 0: this send was recorded already; 1: recorded.
 */
const RECORD_LUA = `
if ARGV[4] ~= '' and redis.call('HGET', KEYS[4], 'client') ~= ARGV[4] then return -1 end
if redis.call('HSETNX', KEYS[3], ARGV[1], '1') == 0 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
`;

/**
 * What the simulated WhatsApp servers recorded as sent, in send order. Written at the instant a
 * message leaves, apart from any job state, so a worker killed right after a send shows as
 * "sent but not acknowledged", and a duplicate send shows as two entries. Reading is shared with
 * the gateway through {@link SimulatorOutboxReader}; writing is the driver's alone.
 */
export class SimulatorOutbox extends SimulatorOutboxReader {
  /** EVALSHA of RECORD_LUA (EVAL sent the whole script with every send). */
  private readonly recordSend: LuaCommand<
    [list: string, index: string, sends: string, device: string, ...args: string[]],
    number
  >;

  constructor(redis: Redis, keys: RedisKeys) {
    super(redis, keys);
    this.recordSend = defineLuaCommand(redis, 'waSimulatorRecordSend', {
      numberOfKeys: 4,
      lua: RECORD_LUA,
    });
  }

  /**
   * Records one send. `sendId` names this send: the same command delivered twice (ioredis
   * resends a command whose reply was lost when Redis died) records once, as WhatsApp's servers
   * would see one message; two sends of one message record twice. With `client`, the send is
   * refused (false) unless that client is still the device's current one, in the same atomic
   * step as the write: a client superseded while its send was in flight sends nothing.
   */
  async record(
    sessionId: string,
    sendId: string,
    entry: OutboxEntry,
    client?: string,
  ): Promise<boolean> {
    const result = await this.recordSend(
      this.keys.simulatorOutbox(sessionId),
      this.keys.simulatorOutboxIndex(sessionId),
      this.keys.simulatorOutboxSends(sessionId),
      this.keys.simulatorDevice(sessionId),
      sendId,
      entry.messageId,
      JSON.stringify(entry),
      client ?? '',
    );
    return result !== -1;
  }

  async clear(sessionId: string): Promise<void> {
    await this.redis.del(
      this.keys.simulatorOutbox(sessionId),
      this.keys.simulatorOutboxIndex(sessionId),
      this.keys.simulatorOutboxSends(sessionId),
    );
  }
}
