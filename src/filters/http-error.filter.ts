import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { Response } from 'express';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { ErrorCode, HTTP_REJECTIONS, type HttpRejectionStatus } from '../protocol/error-codes.js';
import { BrokerUnavailableError } from '../publishing/broker.js';
import { RevocationCapacityError } from '../auth/revocation-store.js';

export interface HttpAnswer {
  readonly status: number;
  readonly body: object;
}

/**
 * The answer to an error of the realtime HTTP API (and, in the standalone server, of every
 * HTTP error): `{code, message, details?}` with the contract's fixed shapes per status;
 * anything unexpected is a generic 500 and a log line. One mapping for the Nest filter below
 * and the publish fast path (src/http/publish-fast-path.ts).
 */
export function httpErrorAnswer(exception: unknown, logger: RealtimeLogger): HttpAnswer {
  if (exception instanceof BrokerUnavailableError || exception instanceof RevocationCapacityError) {
    logger.warn(exception instanceof RevocationCapacityError ? 'revoke failed: revocation store full' : 'publish failed: broker unavailable', describeError(exception));
    return { status: 503, body: HTTP_REJECTIONS[503] };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const body = exception.getResponse();
    // Ours, PublishRejected included: `{code, message, details?}` as built.
    if (typeof body === 'object' && body !== null && 'code' in body) return { status, body };
    // E.g. a body that is not JSON, refused by the body parser before any route: the
    // contract's 400 shape, without echoing the body back.
    if (status === 400) return { status, body: NOT_JSON };
    // Bodies that are not ours (terminus' readiness details, unknown routes) pass through.
    if (typeof body === 'object' && body !== null && status !== 401 && status !== 403) return { status, body };
    return { status, body: HTTP_REJECTIONS[status as HttpRejectionStatus] ?? INTERNAL };
  }
  logger.error('http handler failed', describeError(exception));
  return { status: 500, body: INTERNAL };
}

export const NOT_JSON = { code: ErrorCode.VALIDATION_FAILED, message: 'Request body is not valid JSON', details: [] } as const;
const INTERNAL = { code: 'INTERNAL_ERROR', message: 'Internal error' } as const;

/** The Nest side of `httpErrorAnswer`. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(@Inject(RealtimeLogger) private readonly logger: RealtimeLogger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { status, body } = httpErrorAnswer(exception, this.logger);
    host.switchToHttp().getResponse<Response>().status(status).json(body);
  }
}
