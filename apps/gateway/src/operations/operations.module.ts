import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { SessionsModule } from '../sessions/sessions.module';
import { OperationsController } from './operations.controller';
import { WorkersService } from './workers.service';

/** Operator endpoints: `/api/health`, `/api/workers`, `/api/queue-status`, clear-queue, recover-session. */
@Module({
  imports: [SessionsModule, HealthModule],
  controllers: [OperationsController],
  providers: [WorkersService],
})
export class OperationsModule {}
