import { MaintenanceJobName } from '@app/queue';

/** How often a maintenance job runs (BullMQ job scheduler `every`, in ms). */
export interface MaintenanceSchedule {
  every: number;
}

/**
 * One schedule per maintenance job; a Record, so a job without a schedule does not compile.
 * Each tick runs on one worker of the fleet, whatever the number of workers.
 */
export const MAINTENANCE_SCHEDULES: Record<MaintenanceJobName, MaintenanceSchedule> = {
  // Expiry is a promise about time: a message is `expired` within about a second of its
  // `expiresAt`, even in a paused queue.
  [MaintenanceJobName.ExpirySweep]: { every: 1000 },
  // The stream only needs to stay near its retention; a trim is one XTRIM.
  [MaintenanceJobName.EventStreamTrim]: { every: 30_000 },
};

/**
 * What a scheduler's jobs keep in Redis: nothing once done (one a second would pile up), the
 * last hundred failures to look at.
 */
export const MAINTENANCE_JOB_OPTIONS = {
  removeOnComplete: true,
  removeOnFail: { count: 100 },
} as const;
