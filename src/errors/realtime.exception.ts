import { WsException } from '@nestjs/websockets';
import { ERROR_MESSAGES, ErrorCode, INVALID_FRAME_CODES } from '../protocol/error-codes.js';
import type { CloseCode } from '../protocol/close-codes.js';

export interface ValidationDetail {
  readonly field: string;
  readonly constraints: readonly string[];
}

export interface RealtimeExceptionOptions {
  readonly message?: string;
  readonly details?: readonly ValidationDetail[];
  readonly retryAfterMs?: number;
  /** Close the connection with this code right after the envelope is sent. */
  readonly close?: CloseCode;
  /** Counts towards WS_MAX_INVALID_FRAMES although the code is not one of the invalid-frame codes. */
  readonly invalidFrame?: boolean;
}

/**
 * A failure with a contract error code. Thrown anywhere in the frame pipeline; the
 * `WsExceptionFilter` turns it into the standard envelope.
 */
export class RealtimeException extends WsException {
  readonly code: ErrorCode;
  readonly details?: readonly ValidationDetail[];
  readonly retryAfterMs?: number;
  readonly closeCode?: CloseCode;
  readonly invalidFrame: boolean;

  constructor(code: ErrorCode, options: RealtimeExceptionOptions = {}) {
    const message = options.message ?? ERROR_MESSAGES[code];
    super(message);
    this.code = code;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
    this.closeCode = options.close;
    this.invalidFrame = options.invalidFrame ?? INVALID_FRAME_CODES.has(code);
  }

  static unauthorized(close?: CloseCode): RealtimeException {
    // One message for every auth or permission failure (finding 19).
    return new RealtimeException(ErrorCode.UNAUTHORIZED, { close });
  }

  static limitExceeded(message: string, close?: CloseCode): RealtimeException {
    return new RealtimeException(ErrorCode.LIMIT_EXCEEDED, { message, close });
  }
}
