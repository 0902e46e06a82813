import type { Identity } from '../auth/identity.js';
import type { RealtimeSocket } from '../connection/client-session.js';

/**
 * Told when a connection's token is refreshed, so a namespace can drop subscriptions the
 * new claims no longer allow (docs/protocol.md §4, `reason: "revoked"`).
 */
export interface IdentityRefreshListener {
  onIdentityRefreshed(socket: RealtimeSocket, identity: Identity): void;
}

export const IDENTITY_REFRESH_LISTENERS = Symbol('IDENTITY_REFRESH_LISTENERS');
