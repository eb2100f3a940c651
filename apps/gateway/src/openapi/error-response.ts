import { ApiProperty } from '@nestjs/swagger';

/** The body of every error answer (`renderError`): documented once, referenced by every route. */
export class ErrorDetail {
  @ApiProperty({
    description: 'Stable, machine-readable; UPPER_SNAKE_CASE. Branch on this, not on the message.',
    pattern: '^[A-Z][A-Z0-9_]*$',
    example: 'SESSION_NOT_FOUND',
  })
  code!: string;

  @ApiProperty({
    description: 'For a person: what went wrong and, where possible, what to do about it.',
    example: 'Session "sales" does not exist',
  })
  message!: string;
}

export class ErrorResponse {
  @ApiProperty({ type: () => ErrorDetail })
  error!: ErrorDetail;
}
