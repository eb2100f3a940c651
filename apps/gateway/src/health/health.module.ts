import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { SessionsModule } from '../sessions/sessions.module';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';

/** `/healthz`, `/readyz` and the health report `/api/health` reads. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false }), SessionsModule],
  controllers: [HealthController],
  providers: [HealthService],
  exports: [HealthService],
})
export class HealthModule {}
