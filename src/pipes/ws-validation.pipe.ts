import { Injectable, ValidationPipe, type ValidationError } from '@nestjs/common';
import { RealtimeException } from '../errors/realtime.exception.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { describeValidationErrors, STRICT_VALIDATION } from './validation-details.js';

/**
 * DTO validation for frame payloads (finding 6): whitelist, forbid unknown fields,
 * transform, and answer VALIDATION_FAILED with `details`.
 */
@Injectable()
export class WsValidationPipe extends ValidationPipe {
  constructor() {
    super({
      ...STRICT_VALIDATION,
      exceptionFactory: (errors: ValidationError[]) =>
        new RealtimeException(ErrorCode.VALIDATION_FAILED, describeValidationErrors(errors)),
    });
  }
}
