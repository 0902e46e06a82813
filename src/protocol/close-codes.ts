/** Every WebSocket close code the server uses (docs/protocol.md §3), in one table. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TOKEN_EXPIRED: 4001,
  SLOW_CONSUMER: 4008,
  TOO_MANY_INVALID_FRAMES: 4400,
  UNAUTHORIZED: 4401,
  RATE_LIMIT_ABUSE: 4429,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Close reasons are short and fixed: they reach the client and must leak nothing. */
export const CLOSE_REASONS: Readonly<Record<CloseCode, string>> = {
  1000: 'normal closure',
  1001: 'server shutting down',
  1009: 'message too big',
  1011: 'unexpected server failure',
  4001: 'token expired',
  4008: 'slow consumer',
  4400: 'too many invalid frames',
  4401: 'unauthorized',
  4429: 'rate limit abuse',
};
