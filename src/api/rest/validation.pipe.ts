import { ValidationPipe } from '@nestjs/common';
import type { ValidationError as ClassValidatorError } from 'class-validator';
import { ValidationError } from '../../common/errors';

/**
 * Flattens class-validator errors to `{ field: message }`. Messages come from the DTO decorators and never
 * contain the rejected value, so a bad credential field is named but not echoed.
 */
export function fieldMessages(errors: ClassValidatorError[], parent = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const constraints = error.constraints ?? {};
    if (constraints.whitelistValidation) {
      out[field] = 'is not an allowed property';
    } else if (Object.keys(constraints).length > 0) {
      out[field] = [...new Set(Object.values(constraints))].join('; ');
    }
    if (error.children?.length) Object.assign(out, fieldMessages(error.children, field));
  }
  return out;
}

/** The REST validation pipe: DTO classes only, unknown properties refused, each bad field named. */
export function restValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    // Messages would otherwise start with the property name, which the error body already names.
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => ValidationError.forFields(fieldMessages(errors)),
  });
}
