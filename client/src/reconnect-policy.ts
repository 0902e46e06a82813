import type { ServerCloseCode } from './protocol-types.js';

/**
 * What the client does after a close, by close-code class (docs/protocol.md §3):
 * - `backoff`: reconnect after a delay with full jitter and a cap;
 * - `reauth`: call `getToken()` first, then reconnect with backoff; stop when there is no `getToken`;
 * - `pause`: wait `rateLimitPauseMs` on top of the backoff (sustained rate-limit abuse);
 * - `stop`: no automatic reconnect; the application is told why (`closed`, `error`).
 */
export type ReconnectAction = 'backoff' | 'reauth' | 'pause' | 'stop';

export const CLOSE_POLICY: Readonly<Record<ServerCloseCode, ReconnectAction>> = {
  1000: 'backoff',
  1001: 'backoff',
  1009: 'stop',
  1011: 'backoff',
  4001: 'reauth',
  4008: 'backoff',
  4400: 'stop',
  4401: 'reauth',
  4429: 'pause',
};

/** Close codes outside the contract's table that the `ws` library uses for client faults. */
const CLIENT_FAULTS: ReadonlySet<number> = new Set([1002, 1007]);

/** Upgrade refusals (HTTP status, when known) mapped the same way (docs/protocol.md §2). */
const HTTP_POLICY: Readonly<Record<number, ReconnectAction>> = {
  401: 'reauth',
  403: 'stop',
  404: 'stop',
  429: 'pause',
  503: 'backoff',
};

export function reconnectAction(closeCode: number, httpStatus?: number): ReconnectAction {
  if (httpStatus !== undefined) return HTTP_POLICY[httpStatus] ?? 'backoff';
  if (CLIENT_FAULTS.has(closeCode)) return 'stop';
  return (CLOSE_POLICY as Record<number, ReconnectAction>)[closeCode] ?? 'backoff';
}

export interface BackoffOptions {
  /** Ceiling of the first delay (ms); it doubles with each failed attempt. */
  readonly initialDelayMs: number;
  /** Cap of the ceiling (ms). */
  readonly maxDelayMs: number;
  /** Floor of every delay (ms): bounds reconnects per minute to 60000 / minDelayMs at worst. */
  readonly minDelayMs: number;
  /** Extra pause after 4429 or an upgrade answered 429 (ms). */
  readonly rateLimitPauseMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  minDelayMs: 250,
  rateLimitPauseMs: 30_000,
};

/** Full jitter: uniform in [0, min(cap, initial·2^attempt)], never below the floor. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.max(options.minDelayMs, Math.floor(random() * ceiling));
}
