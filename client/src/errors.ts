import type { ErrorCode, ServerErrorFrame } from './protocol-types.js';

/**
 * Codes the client itself raises, beside the server's closed set (docs/protocol.md §3):
 * - `TIMEOUT`: no answer within the request's timeout;
 * - `DISCONNECTED`: the connection dropped while a non-idempotent request was in flight
 *   (it may or may not have been applied);
 * - `CLOSED`: the client was closed, or the server closed it with a code that is not
 *   reconnected automatically (`closeCode` says which);
 * - `TOO_MANY_PENDING`: `maxPendingRequests` requests are already waiting;
 * - `CONNECT_FAILED`: the upgrade failed (refused, or the server is unreachable);
 * - `TOKEN_UNAVAILABLE`: `getToken()` threw or returned nothing when a token was needed.
 */
export type ClientErrorCode = 'TIMEOUT' | 'DISCONNECTED' | 'CLOSED' | 'TOO_MANY_PENDING' | 'CONNECT_FAILED' | 'TOKEN_UNAVAILABLE';

export type RealtimeErrorCode = ErrorCode | ClientErrorCode;

export interface RealtimeErrorInit {
  readonly details?: ServerErrorFrame['details'];
  readonly retryAfterMs?: number;
  readonly request?: string;
  readonly id?: string | number;
  readonly closeCode?: number;
  readonly httpStatus?: number;
}

/** Every failure the client reports: an error envelope from the server, or one of its own codes. */
export class RealtimeError extends Error {
  override readonly name = 'RealtimeError';
  readonly details?: ServerErrorFrame['details'];
  /** Only for `RATE_LIMITED`: how long to wait before sending again. */
  readonly retryAfterMs?: number;
  /** The event of the request this error answers, when known. */
  readonly request?: string;
  readonly id?: string | number;
  /** For `CLOSED` and `DISCONNECTED`: the WebSocket close code. */
  readonly closeCode?: number;
  /** For `CONNECT_FAILED`, when the WebSocket implementation tells it (Node's `ws` does, browsers do not). */
  readonly httpStatus?: number;

  constructor(
    readonly code: RealtimeErrorCode,
    message: string,
    init: RealtimeErrorInit = {},
  ) {
    super(message);
    if (init.details !== undefined) this.details = init.details;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.request !== undefined) this.request = init.request;
    if (init.id !== undefined) this.id = init.id;
    if (init.closeCode !== undefined) this.closeCode = init.closeCode;
    if (init.httpStatus !== undefined) this.httpStatus = init.httpStatus;
  }

  /** True for codes the server sends, false for the client's own. */
  get fromServer(): boolean {
    return !CLIENT_CODES.has(this.code);
  }

  static fromEnvelope(frame: ServerErrorFrame): RealtimeError {
    return new RealtimeError(frame.code, frame.message, frame);
  }
}

const CLIENT_CODES: ReadonlySet<string> = new Set<ClientErrorCode>(['TIMEOUT', 'DISCONNECTED', 'CLOSED', 'TOO_MANY_PENDING', 'CONNECT_FAILED', 'TOKEN_UNAVAILABLE']);
