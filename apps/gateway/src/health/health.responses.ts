import { ApiProperty } from '@nestjs/swagger';

/** The probes' answers, as the OpenAPI document shows them. */

export class Liveness {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status!: 'ok';
}

/** @nestjs/terminus's answer: every indicator (here only `redis`) with its status. */
export class Readiness {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status!: 'ok';

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The indicators that are up',
    example: { redis: { status: 'up' } },
  })
  info!: Record<string, unknown>;

  @ApiProperty({ type: 'object', additionalProperties: true, example: {} })
  error!: Record<string, unknown>;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { redis: { status: 'up' } },
  })
  details!: Record<string, unknown>;
}
