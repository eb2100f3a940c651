import type { ValidationError } from '@nestjs/common';
import { ApiError } from './api-error';

function flatten(errors: ValidationError[], parent = ''): string[] {
  const out: string[] = [];
  for (const e of errors) {
    const path = parent ? `${parent}.${e.property}` : e.property;
    if (e.constraints) {
      for (const [rule, msg] of Object.entries(e.constraints)) {
        out.push(
          rule === 'whitelistValidation'
            ? `${path} is not an accepted field`
            : msg.replace(e.property, path),
        );
      }
    }
    if (e.children?.length) out.push(...flatten(e.children, path));
  }
  return out;
}

/** class-validator failures as one 400 VALIDATION_FAILED naming every bad field. */
export function validationException(errors: ValidationError[]): ApiError {
  return ApiError.badRequest(flatten(errors).join('; ') || 'Invalid request body');
}
