import { type ArgumentMetadata, Injectable, type Type, ValidationPipe, type ValidationError } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { RealtimeException } from '../errors/realtime.exception.js';
import { EmptyDto } from '../gateways/dto/session.dto.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { describeValidationErrors, STRICT_VALIDATION } from './validation-details.js';

const failed = (errors: readonly ValidationError[]): RealtimeException =>
  new RealtimeException(ErrorCode.VALIDATION_FAILED, describeValidationErrors(errors));

/**
 * DTO validation for frame payloads (finding 6): whitelist, forbid unknown fields,
 * transform, and answer VALIDATION_FAILED with `details`.
 *
 * `transform` is narrowed for the frame path, measured as its largest per-frame cost: the
 * payload is already a plain JSON object without prototype keys (parseFrame refuses them),
 * so Nest's generic pre-processing is skipped, validation runs synchronously (no DTO has an
 * async rule), and `{}`-only events check for "no keys" without class-validator at all.
 */
@Injectable()
export class WsValidationPipe extends ValidationPipe {
  constructor() {
    super({ ...STRICT_VALIDATION, exceptionFactory: (errors: ValidationError[]) => failed(errors) });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const metatype = metadata.metatype as Type<object> | undefined;
    if (!metatype || !this.toValidate(metadata)) return value;
    if (metatype === EmptyDto) {
      const extra = Object.keys(value as object);
      if (extra.length > 0) {
        throw new RealtimeException(ErrorCode.VALIDATION_FAILED, {
          message: `property ${extra[0]!.slice(0, 100)} should not exist`,
          details: extra.slice(0, 20).map((field) => ({ field: field.slice(0, 100), constraints: ['whitelistValidation'] })),
        });
      }
      return new EmptyDto();
    }
    const entity = plainToInstance(metatype, value);
    const errors = validateSync(entity, STRICT_VALIDATION);
    if (errors.length > 0) throw failed(errors);
    return entity;
  }
}
