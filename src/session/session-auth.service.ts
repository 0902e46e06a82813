import { Inject, Injectable } from '@nestjs/common';
import type { WsResponse } from '@nestjs/websockets';
import { AuthFailure, type Identity } from '../auth/identity.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import type { Connection } from '../connection/connection.js';
import { ConnectionLifecycle } from '../connection/connection-lifecycle.js';
import { ConnectionLimiter } from '../connection/connection-limiter.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { SecurityEvents } from '../observability/security-events.js';
import { CloseCode } from '../protocol/close-codes.js';
import { replyTo } from '../protocol/namespace-descriptor.js';
import { type AuthOkData, type ExpiresAtData, SESSION } from '../protocol/namespace-descriptors.js';
import { IDENTITY_REFRESH_LISTENERS, type IdentityRefreshListener } from './identity-refresh.listener.js';

export type { AuthOkData };
export type AuthRefreshedData = ExpiresAtData;

/** In-band `auth` and `auth.refresh` (docs/protocol.md §4, findings 16 and 17). */
@Injectable()
export class SessionAuthService {
  constructor(
    @Inject(TokenVerifier) private readonly verifier: TokenVerifier,
    @Inject(ConnectionLifecycle) private readonly lifecycle: ConnectionLifecycle,
    @Inject(ConnectionLimiter) private readonly limiter: ConnectionLimiter,
    @Inject(SecurityEvents) private readonly security: SecurityEvents,
    @Inject(IDENTITY_REFRESH_LISTENERS) private readonly refreshListeners: readonly IdentityRefreshListener[],
  ) {}

  async authenticate(connection: Connection, token: string): Promise<WsResponse<AuthOkData | AuthRefreshedData> | undefined> {
    const identity = await this.verifyOrFail(connection, token, connection.namespace.authRequired && !connection.authenticated);
    if (connection.closed) return undefined;
    if (connection.authenticated) {
      return this.applyRefresh(connection, identity);
    }
    const leaseId = await this.limiter.acquireUser(identity.userId);
    if (leaseId === undefined) {
      throw RealtimeException.limitExceeded('Too many connections for this user', CloseCode.RATE_LIMIT_ABUSE);
    }
    if (connection.closed || connection.authenticated) {
      // Closed, or a concurrent `auth` won the race while the slot was being taken.
      this.limiter.releaseUser(identity.userId, leaseId);
      if (connection.closed) return undefined;
      return this.applyRefresh(connection, identity);
    }
    this.lifecycle.promote(connection, identity, leaseId);
    return replyTo(SESSION.client.auth, { userId: identity.userId, expiresAt: new Date(identity.expiresAt).toISOString() });
  }

  async refresh(connection: Connection, token: string): Promise<WsResponse<AuthRefreshedData> | undefined> {
    const identity = await this.verifyOrFail(connection, token, false);
    if (connection.closed) return undefined;
    return this.applyRefresh(connection, identity);
  }

  private applyRefresh(connection: Connection, identity: Identity): WsResponse<AuthRefreshedData> {
    if (identity.userId !== connection.userId) {
      this.recordFailure(connection, 'sub_mismatch');
      throw RealtimeException.unauthorized();
    }
    this.lifecycle.refresh(connection, identity);
    for (const listener of this.refreshListeners) listener.onIdentityRefreshed(connection, identity);
    // `auth` on an authenticated connection answers as `auth.refresh` does.
    return replyTo(SESSION.client.refresh, { expiresAt: new Date(identity.expiresAt).toISOString() });
  }

  private async verifyOrFail(connection: Connection, token: string, closeOnFailure: boolean): Promise<Identity> {
    try {
      return await this.verifier.verify(token);
    } catch (err) {
      // A failing dependency (revocation store) is an INTERNAL_ERROR, not the client's bad token.
      if (!(err instanceof AuthFailure)) throw err;
      this.recordFailure(connection, err.reason);
      throw RealtimeException.unauthorized(closeOnFailure ? CloseCode.UNAUTHORIZED : undefined);
    }
  }

  /** The reason is for operators only; the client always gets the same UNAUTHORIZED. */
  private recordFailure(connection: Connection, reason: string): void {
    
    this.security.authFailure(reason, { namespace: connection.namespace.name, ipHash: connection.ipHash, fields: { connectionId: connection.id, inBand: true } });
  }
}
