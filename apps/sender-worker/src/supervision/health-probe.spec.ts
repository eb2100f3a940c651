import {
  SessionDriver,
  SessionDriverError,
  type NumberCheck,
  type ProbeResult,
  type SendResult,
} from '@app/session';
import { HealthProbe, PROBE_FAILURES_LOST } from './health-probe';

/** A driver whose probe answers as the test says (or never). */
class ProbedDriver extends SessionDriver {
  readonly name = 'simulator' as const;
  answer: () => Promise<ProbeResult> = async () => ({ state: 'CONNECTED' });
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async send(): Promise<SendResult> {
    throw new Error('not used');
  }
  async findSent(): Promise<SendResult | null> {
    return null;
  }
  probe(): Promise<ProbeResult> {
    return this.answer();
  }
  async checkNumber(chatId: string): Promise<NumberCheck> {
    return { chatId, onWhatsApp: true };
  }
  async requestPairingCode(): Promise<string> {
    return '';
  }
}

describe('HealthProbe', () => {
  it('passes a CONNECTED session and refuses any other state', async () => {
    const driver = new ProbedDriver();
    const probe = new HealthProbe(1000);
    await expect(probe.connected(driver)).resolves.toEqual({ state: 'CONNECTED' });
    driver.answer = async () => ({ state: 'TIMEOUT' });
    await expect(probe.connected(driver)).rejects.toMatchObject({
      code: 'HEALTH_CHECK_FAILED',
      message: 'WhatsApp state is TIMEOUT',
    });
  });

  it('gives up on a probe that never answers (a frozen page)', async () => {
    const driver = new ProbedDriver();
    driver.answer = () => new Promise<never>(() => undefined);
    const err = await new HealthProbe(20).once(driver).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionDriverError);
    expect(err).toMatchObject({ code: 'HEALTH_CHECK_TIMEOUT', failure: 'session' });
  });

  it('calls the session lost after PROBE_FAILURES_LOST failures in a row, not fewer', () => {
    const probe = new HealthProbe(1000);
    for (let i = 1; i < PROBE_FAILURES_LOST; i++) expect(probe.failed().lost).toBe(false);
    expect(probe.failed()).toEqual({ failures: PROBE_FAILURES_LOST, lost: true });
    probe.passed();
    expect(probe.failed()).toEqual({ failures: 1, lost: false });
  });
});
