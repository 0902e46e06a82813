import type { Identity } from '../auth/identity.js';
import type { Connection } from '../connection/connection.js';

/**
 * Told when a connection's token is refreshed, so a namespace can drop subscriptions the
 * new claims no longer allow (docs/protocol.md §4, `reason: "revoked"`).
 */
export interface IdentityRefreshListener {
  onIdentityRefreshed(connection: Connection, identity: Identity): void;
}

export const IDENTITY_REFRESH_LISTENERS = Symbol('IDENTITY_REFRESH_LISTENERS');
