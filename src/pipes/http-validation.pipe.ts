import { HttpException, Injectable, ValidationPipe, type ValidationError } from '@nestjs/common';
import { validateSync, type ValidatorOptions } from 'class-validator';
import { ErrorCode } from '../protocol/error-codes.js';
import { describeValidationErrors } from './validation-details.js';
import { STRICT_VALIDATION } from './validation-details.js';

/** Body validation of the realtime HTTP API: 400 `{code: "VALIDATION_FAILED", message, details}`. */
@Injectable()
export class HttpValidationPipe extends ValidationPipe {
  constructor() {
    super({
      ...STRICT_VALIDATION,
      exceptionFactory: (errors: ValidationError[]) =>
        new HttpException({ code: ErrorCode.VALIDATION_FAILED, ...describeValidationErrors(errors) }, 400),
    });
  }

  /** Synchronously: no DTO of the API has an async rule, and the async form costs a promise per rule. */
  protected override validate(object: object, options?: ValidatorOptions): ValidationError[] {
    return validateSync(object, options);
  }
}
