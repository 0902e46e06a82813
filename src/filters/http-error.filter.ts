import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { Response } from 'express';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { ErrorCode, HTTP_REJECTIONS, type HttpRejectionStatus } from '../protocol/error-codes.js';
import { BrokerUnavailableError } from '../publishing/broker.js';
import { RevocationCapacityError } from '../auth/revocation-store.js';

/**
 * Bodies of the realtime HTTP API (and, in the standalone server, of every HTTP error): `{code, message, details?}` with the contract's fixed
 * shapes per status; anything unexpected is a generic 500 and a log line.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(@Inject(RealtimeLogger) private readonly logger: RealtimeLogger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (exception instanceof BrokerUnavailableError || exception instanceof RevocationCapacityError) {
      this.logger.warn(exception instanceof RevocationCapacityError ? 'revoke failed: revocation store full' : 'publish failed: broker unavailable', describeError(exception));
      response.status(503).json(HTTP_REJECTIONS[503]);
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      // Ours, PublishRejected included: `{code, message, details?}` as built.
      if (typeof body === 'object' && body !== null && 'code' in body) {
        response.status(status).json(body);
      } else if (status === 400) {
        // E.g. a body that is not JSON, refused by the body parser before any route: the
        // contract's 400 shape, without echoing the body back.
        response.status(400).json({ code: ErrorCode.VALIDATION_FAILED, message: 'Request body is not valid JSON', details: [] });
      } else if (typeof body === 'object' && body !== null && status !== 401 && status !== 403) {
        // Bodies that are not ours (terminus' readiness details, unknown routes) pass through.
        response.status(status).json(body);
      } else {
        response.status(status).json(HTTP_REJECTIONS[status as HttpRejectionStatus] ?? { code: 'INTERNAL_ERROR', message: 'Internal error' });
      }
      return;
    }
    this.logger.error('http handler failed', describeError(exception));
    response.status(500).json({ code: 'INTERNAL_ERROR', message: 'Internal error' });
  }
}
