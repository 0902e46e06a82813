import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { MAX_MESSAGE_SIZE_KEY } from '../decorators/max-message-size.decorator.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { inboundFrameOf } from '../protocol/inbound-frames.js';

/** Applies `@MaxMessageSize` to the raw frame length, before validation (finding 10). */
@Injectable()
export class MessageSizeGuard implements CanActivate {
  constructor(@Inject(Reflector) private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const max = this.reflector.getAllAndOverride<number | undefined>(MAX_MESSAGE_SIZE_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (max === undefined) return true;
    const frame = inboundFrameOf(context);
    if (frame !== undefined && frame.bytes > max) {
      throw new RealtimeException(ErrorCode.PAYLOAD_TOO_LARGE, {
        message: `Frame of ${frame.bytes} bytes exceeds the ${max}-byte limit of ${frame.event}`,
      });
    }
    return true;
  }
}
