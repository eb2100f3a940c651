import { MESSAGE_FAILURE_CODES } from '@app/queue';
import { SessionErrorCode } from '@app/session';

describe('wa_messages_failed_total code label', () => {
  it('has every driver error code in its bounded set (anything else is OTHER)', () => {
    const missing = Object.values(SessionErrorCode).filter((c) => !MESSAGE_FAILURE_CODES.has(c));
    expect(missing).toEqual([]);
  });
});
