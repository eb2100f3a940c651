import { Counter, Histogram } from 'prom-client';
import { metricsRegistry } from '@app/core';
import type { RecoveryStep } from './recovery-policy';

const recoverySteps = new Counter({
  name: 'wa_session_recovery_steps_total',
  help: 'Recovery steps tried by the owning worker, by session, step (recheck, restart-client, relaunch) and outcome (recovered, failed)',
  labelNames: ['session', 'step', 'outcome'] as const,
  registers: [metricsRegistry],
});

const lossDetection = new Histogram({
  name: 'wa_session_loss_detection_seconds',
  help: 'From the first sign of a loss (the driver or send path reporting it, or the first of the failed probes) to the session stored as recovering with its queue paused, by session and trigger (report, probe)',
  labelNames: ['session', 'trigger'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  registers: [metricsRegistry],
});

/** What supervision reports about one session (bound to its id by the runtime). */
export interface SupervisionObserver {
  recoveryStep(step: RecoveryStep, outcome: 'recovered' | 'failed'): void;
  /** A loss was detected `ms` after its first sign; `probe` when failed probes declared it. */
  lossDetected(ms: number, trigger: 'report' | 'probe'): void;
}

/** The metrics of one session's supervision. */
export function supervisionMetrics(session: string): SupervisionObserver {
  return {
    recoveryStep: (step, outcome) => recoverySteps.inc({ session, step, outcome }),
    lossDetected: (ms, trigger) => lossDetection.observe({ session, trigger }, ms / 1000),
  };
}
