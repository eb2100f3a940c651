import { ApiProperty } from '@nestjs/swagger';
import { SESSION_STATUSES } from '@app/session';
import { SessionEventError } from '../openapi/event.schemas';

/** The operations routes' answers, as the OpenAPI document shows them. */

export class HealthSession {
  @ApiProperty({ example: 'sales' })
  id!: string;

  @ApiProperty({ enum: SESSION_STATUSES, example: 'ready' })
  status!: string;

  @ApiProperty({ type: String, nullable: true, example: 'worker-a' })
  worker!: string | null;

  @ApiProperty({ example: true })
  session_health!: boolean;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: '2026-05-01T10:00:00.000Z',
  })
  last_health_check!: string | null;

  @ApiProperty({ description: 'Waiting and scheduled messages', minimum: 0, example: 3 })
  message_queue_length!: number;

  @ApiProperty({ description: 'Sending now, or able to', example: true })
  processing_queue!: boolean;

  @ApiProperty({ example: false })
  restart_in_progress!: boolean;

  @ApiProperty({ minimum: 0, example: 0 })
  recoveries!: number;

  @ApiProperty({ type: () => SessionEventError, nullable: true })
  last_error!: SessionEventError | null;
}

export class ConsistencyStats {
  @ApiProperty({
    description: "Records the workers' consistency check settled (their job ended without them)",
    minimum: 0,
    example: 0,
  })
  fixed!: number;

  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    example: '2026-05-01T10:00:00.000Z',
  })
  lastRunAt!: string | null;
}

export class HealthReport {
  @ApiProperty({
    enum: ['ok', 'degraded', 'down'],
    description: '`degraded`: some session cannot send; `down`: Redis is unreachable',
    example: 'ok',
  })
  status!: string;

  @ApiProperty({ example: true })
  redis!: boolean;

  @ApiProperty({ type: () => [HealthSession] })
  sessions!: HealthSession[];

  @ApiProperty({ type: () => ConsistencyStats, required: false, description: 'Absent when `down`' })
  consistency?: ConsistencyStats;
}

export class WorkerMemory {
  @ApiProperty({ description: "The worker's own Node process (MB)", example: 142 })
  workerMb!: number;

  @ApiProperty({ description: "Its sessions' browsers together (MB)", example: 610 })
  browsersMb!: number;
}

export class WorkerInfo {
  @ApiProperty({ example: 'worker-a' })
  id!: string;

  @ApiProperty({ type: Number, nullable: true, example: 4242 })
  pid!: number | null;

  @ApiProperty({ type: [String], example: ['sales', 'support'] })
  sessions!: string[];

  @ApiProperty({ example: 10 })
  maxSessions!: number;

  @ApiProperty({ type: () => WorkerMemory })
  memory!: WorkerMemory;

  @ApiProperty({ format: 'date-time', example: '2026-05-01T10:00:00.000Z' })
  heartbeatAt!: string;
}

export class WorkerList {
  @ApiProperty({ type: () => [WorkerInfo] })
  workers!: WorkerInfo[];
}

export class ClearedQueue {
  @ApiProperty({ example: 'sales' })
  session!: string;

  @ApiProperty({ description: 'Messages now `cancelled`', minimum: 0, example: 12 })
  cleared!: number;
}

export class RecoveringSession {
  @ApiProperty({ example: 'sales' })
  session!: string;

  @ApiProperty({ enum: [true], example: true })
  recovering!: true;
}
