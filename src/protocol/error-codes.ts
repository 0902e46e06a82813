/**
 * The closed set of error codes a client can receive in an `error` envelope
 * (docs/protocol.md §3). Nothing else may appear in `code`.
 */
export const ErrorCode = {
  INVALID_JSON: 'INVALID_JSON',
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  UNKNOWN_EVENT: 'UNKNOWN_EVENT',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  RATE_LIMITED: 'RATE_LIMITED',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Default client-facing message per code. Generic on purpose (findings 19, 21). */
export const ERROR_MESSAGES: Readonly<Record<ErrorCode, string>> = {
  INVALID_JSON: 'Frame is not valid JSON',
  INVALID_MESSAGE: 'Frame does not match {event, data?, id?}',
  UNKNOWN_EVENT: 'Unknown event',
  VALIDATION_FAILED: 'Validation failed',
  PAYLOAD_TOO_LARGE: 'Frame too large for this event',
  UNAUTHORIZED: 'Unauthorized',
  RATE_LIMITED: 'Too many messages',
  LIMIT_EXCEEDED: 'Limit exceeded',
  INTERNAL_ERROR: 'Internal error',
};

/** Codes that count as an invalid-frame strike (4400 after WS_MAX_INVALID_FRAMES a minute). */
export const INVALID_FRAME_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.INVALID_JSON,
  ErrorCode.INVALID_MESSAGE,
  ErrorCode.UNKNOWN_EVENT,
  ErrorCode.VALIDATION_FAILED,
]);

/** HTTP rejections at the upgrade and on the HTTP API: one fixed body per status (finding 19). */
export const HTTP_REJECTIONS = {
  400: { code: 'VALIDATION_FAILED', message: 'Validation failed' },
  401: { code: 'UNAUTHORIZED', message: 'Unauthorized' },
  403: { code: 'FORBIDDEN', message: 'Forbidden' },
  404: { code: 'NOT_FOUND', message: 'Not Found' },
  413: { code: 'PAYLOAD_TOO_LARGE', message: 'Payload Too Large' },
  429: { code: 'RATE_LIMITED', message: 'Too Many Requests' },
  503: { code: 'UNAVAILABLE', message: 'Service Unavailable' },
} as const;

export type HttpRejectionStatus = keyof typeof HTTP_REJECTIONS;
