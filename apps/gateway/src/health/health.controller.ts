import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ApiErrors } from '../openapi/api-errors.decorator';
import { Public } from '../common/public.decorator';
import { HealthService } from './health.service';
import { Liveness, Readiness } from './health.responses';

/** Probes for orchestrators; no API key. */
@Public()
@ApiTags('Probes')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly terminus: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  @ApiOperation({ summary: 'Liveness', description: 'The process answers. No key needed.' })
  @ApiOkResponse({ type: Liveness })
  live() {
    return { status: 'ok' };
  }

  /** Readiness: Redis answers, so a message can be stored (503 otherwise). */
  @Get('readyz')
  // Documented here (terminus's own schema describes a 503 body the error filter replaces).
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    summary: 'Readiness',
    description: 'Redis answers, so a message can be stored; 503 otherwise. No key needed.',
  })
  @ApiOkResponse({ type: Readiness })
  @ApiErrors({
    status: 503,
    code: 'SERVICE_UNAVAILABLE',
    message: 'Service Unavailable Exception',
    description: 'Redis does not answer: the gateway cannot store messages now',
  })
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
