import { SessionDriverError } from '@app/session';

/** The SessionDriverError `promise` rejects with; fails the test if it resolves or rejects otherwise. */
export async function rejection(promise: Promise<unknown>): Promise<SessionDriverError> {
  let value: unknown;
  try {
    value = await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SessionDriverError);
    return err as SessionDriverError;
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 200)}`);
}
