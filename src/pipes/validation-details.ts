import type { ValidationError } from '@nestjs/common';
import type { ValidationDetail } from '../errors/realtime.exception.js';

/** Keeps error bodies small whatever the payload looked like. */
const MAX_DETAILS = 20;

function flatten(errors: readonly ValidationError[], prefix: string, out: ValidationDetail[]): void {
  for (const error of errors) {
    const property = error.property ?? '';
    const field = prefix && property ? `${prefix}.${property}` : prefix || property;
    if (error.constraints) out.push({ field: field.slice(0, 100), constraints: Object.keys(error.constraints) });
    if (error.children?.length) flatten(error.children, field, out);
  }
}

function firstMessage(errors: readonly ValidationError[]): string | undefined {
  for (const error of errors) {
    const message = error.constraints ? Object.values(error.constraints)[0] : undefined;
    if (message) return message;
    const nested = error.children ? firstMessage(error.children) : undefined;
    if (nested) return nested;
  }
  return undefined;
}

/** class-validator errors → the contract's `message` and `details` (one shape for WS and HTTP). */
export function describeValidationErrors(errors: readonly ValidationError[]): { message: string; details: ValidationDetail[] } {
  const details: ValidationDetail[] = [];
  flatten(errors, '', details);
  return {
    message: (firstMessage(errors) ?? 'Validation failed').slice(0, 300),
    details: details.slice(0, MAX_DETAILS),
  };
}

/** Options shared by the WS and HTTP validation pipes: whitelist, forbid unknown, transform. */
export const STRICT_VALIDATION = {
  whitelist: true,
  forbidNonWhitelisted: true,
  // Off: it rejects DTOs without decorators (EmptyDto); whitelist + forbidNonWhitelisted still refuse unknown fields.
  forbidUnknownValues: false,
  transform: true,
  validateCustomDecorators: false,
} as const;
