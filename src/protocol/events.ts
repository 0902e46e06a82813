/** Event names of the session layer (docs/protocol.md §4), shared by every namespace. */
export const SessionEvent = {
  CONNECTED: 'connected',
  AUTH: 'auth',
  AUTH_OK: 'auth.ok',
  AUTH_REFRESH: 'auth.refresh',
  AUTH_REFRESHED: 'auth.refreshed',
  AUTH_EXPIRING: 'auth.expiring',
  PING: 'ping',
  PONG: 'pong',
  ERROR: 'error',
  SYSTEM_ANNOUNCEMENT: 'system.announcement',
} as const;

/** Per-event frame caps in bytes (docs/protocol.md §5, finding 10). */
export const FrameCap = {
  CONTROL: 4 * 1024,
  ROOM_BROADCAST: 24 * 1024,
  COMMODITY_MESSAGE: 8 * 1024,
  ACTIVITY_REPORT: 8 * 1024,
} as const;

/** Identifier rule shared by trackingId, projectId and roomId. */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Longest token accepted, in characters, anywhere a token is read (docs/protocol.md §2). */
export const MAX_TOKEN_LENGTH = 8192;
