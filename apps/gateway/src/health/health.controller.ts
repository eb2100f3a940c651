import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Public } from '../common/public.decorator';
import { HealthService } from './health.service';

/** Probes for orchestrators; no API key. */
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly terminus: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  live() {
    return { status: 'ok' };
  }

  /** Readiness: Redis answers, so a message can be stored (503 otherwise). */
  @Get('readyz')
  @HealthCheck()
  ready() {
    return this.terminus.check([
      async () => {
        const redis = this.indicators.check('redis');
        return (await this.health.redisUp())
          ? redis.up()
          : redis.down({ message: 'Redis is unreachable' });
      },
    ]);
  }
}
