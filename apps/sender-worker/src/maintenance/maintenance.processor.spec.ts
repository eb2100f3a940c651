import { UnrecoverableError, type Job } from 'bullmq';
import pino from 'pino';
import { MaintenanceJobName } from '@app/queue';
import type { ExpirySweeperService } from '../expiry/expiry-sweeper.service';
import type { EventStreamTrimmer } from './event-stream-trimmer';
import { MAINTENANCE_SCHEDULES } from './maintenance.schedules';
import { MaintenanceProcessor } from './maintenance.processor';

const job = (name: string) => ({ name }) as Job;

describe('MaintenanceProcessor', () => {
  const sweeps: number[] = [];
  const sweeper = {
    sweep: async () => {
      sweeps.push(Date.now());
      return 3;
    },
  } as unknown as ExpirySweeperService;
  const trims: number[] = [];
  const trimmer = {
    trim: async () => {
      trims.push(Date.now());
      return 7;
    },
  } as unknown as EventStreamTrimmer;
  const processor = new MaintenanceProcessor(sweeper, trimmer, pino({ level: 'silent' }));

  it('runs an expiry-sweep job as one sweep and returns what it expired', async () => {
    await expect(processor.process(job(MaintenanceJobName.ExpirySweep))).resolves.toBe(3);
    expect(sweeps).toHaveLength(1);
  });

  it('runs an event-stream-trim job as one trim and returns what it removed', async () => {
    await expect(processor.process(job(MaintenanceJobName.EventStreamTrim))).resolves.toBe(7);
    expect(trims).toHaveLength(1);
  });

  it('fails a job it has no handler for without retrying it', async () => {
    await expect(processor.process(job('from-a-newer-version'))).rejects.toBeInstanceOf(
      UnrecoverableError,
    );
  });

  it('has a schedule for every maintenance job', () => {
    for (const name of Object.values(MaintenanceJobName))
      expect(MAINTENANCE_SCHEDULES[name].every).toBeGreaterThan(0);
  });
});
