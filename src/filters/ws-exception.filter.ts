import { type ArgumentsHost, Catch, type ExceptionFilter, Inject, Injectable } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { Connection, RealtimeSocket } from '../connection/connection.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { RealtimeMetrics } from '../observability/realtime-metrics.js';
import { type AuditEventKind, SecurityAuditLog } from '../observability/security-audit-log.js';
import { CloseCode } from '../protocol/close-codes.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { SessionEvent } from '../protocol/events.js';
import { inboundFrameOf } from '../protocol/inbound-frames.js';

/** The standard error envelope (docs/protocol.md §3, finding 15). */
export interface ErrorEnvelope {
  readonly event: 'error';
  readonly type: 'error';
  readonly code: ErrorCode;
  readonly message: string;
  readonly timestamp: string;
  readonly id?: string | number;
  readonly request?: string;
  readonly details?: RealtimeException['details'];
  readonly retryAfterMs?: number;
}

/** What is known of the frame an error answers: its event and id, when they could be read. */
export interface FrameRef {
  readonly event?: string;
  readonly id?: string | number;
}

/** Error codes that leave a line in the security audit log. */
const AUDITED: Partial<Record<ErrorCode, AuditEventKind>> = {
  INVALID_JSON: 'invalid_frame',
  INVALID_MESSAGE: 'invalid_frame',
  UNKNOWN_EVENT: 'invalid_frame',
  VALIDATION_FAILED: 'invalid_frame',
  PAYLOAD_TOO_LARGE: 'oversized_frame',
};

/**
 * The one place that turns anything thrown while handling a frame into the standard
 * envelope (findings 15, 21), counts it, and applies the strikes it implies: invalid
 * frames → 4400, rate-limit abuse → 4429. Internals never reach the client.
 */
@Catch()
@Injectable()
export class WsExceptionFilter implements ExceptionFilter {
  constructor(
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
    @Inject(SecurityAuditLog) private readonly audit: SecurityAuditLog,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const client = host.switchToWs().getClient<RealtimeSocket>().connection;
    this.report(client, exception, inboundFrameOf(host));
  }

  /** Sends the envelope for `exception` to `client` and applies strikes and closes. */
  report(client: Connection, exception: unknown, frame?: FrameRef): void {
    const error = this.normalise(exception, client, frame);
    const namespace = client.namespace.name;
    const envelope: ErrorEnvelope = {
      event: SessionEvent.ERROR,
      type: 'error',
      code: error.code,
      message: error.message,
      timestamp: new Date().toISOString(),
      ...(frame?.id !== undefined ? { id: frame.id } : {}),
      ...(frame?.event !== undefined ? { request: frame.event } : {}),
      ...(error.code === ErrorCode.VALIDATION_FAILED && error.details ? { details: error.details } : {}),
      ...(error.code === ErrorCode.RATE_LIMITED ? { retryAfterMs: error.retryAfterMs ?? 1000 } : {}),
    };
    client.send(JSON.stringify(envelope));
    this.metrics.countError(namespace, error.code);
    const audited = AUDITED[error.code];
    if (audited) this.audit.record(audited, client.ipHash, { namespace, code: error.code, connectionId: client.id });
    if (error.code === ErrorCode.RATE_LIMITED) {
      this.metrics.countRateLimited(namespace);
    }
    if (error.closeCode !== undefined) {
      client.close(error.closeCode);
      return;
    }
    const now = Date.now();
    if (error.invalidFrame && client.strikeInvalidFrame(now)) {
      this.audit.record('invalid_frame', client.ipHash, { namespace, connectionId: client.id, closed: CloseCode.TOO_MANY_INVALID_FRAMES });
      client.close(CloseCode.TOO_MANY_INVALID_FRAMES);
    } else if (error.code === ErrorCode.RATE_LIMITED && client.strikeRateLimit(now)) {
      this.audit.record('rate_limit_strike', client.ipHash, { namespace, connectionId: client.id, closed: CloseCode.RATE_LIMIT_ABUSE });
      client.close(CloseCode.RATE_LIMIT_ABUSE);
    }
  }

  private normalise(exception: unknown, client: Connection, frame?: FrameRef): RealtimeException {
    if (exception instanceof RealtimeException) return exception;
    // A guard returning false surfaces as WsException('Forbidden resource').
    if (exception instanceof WsException) return RealtimeException.unauthorized();
    this.logger.error('handler failed', {
      connectionId: client.id,
      namespace: client.namespace.name,
      request: frame?.event,
      ...describeError(exception),
    });
    return new RealtimeException(ErrorCode.INTERNAL_ERROR);
  }
}
