import type { WsResponse } from '@nestjs/websockets';
import type { Identity } from '../auth/identity.js';
import type { RealtimeAuthorization } from '../auth/realtime-authorization.js';
import type { Connection } from '../connection/connection.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import type { NamespaceName } from '../protocol/namespaces.js';
import type { IdentityRefreshListener } from '../session/identity-refresh.listener.js';
import type { SubscriptionRegistry } from './subscription-registry.js';

/**
 * Base of the per-namespace subscription services: authorisation and caps over the
 * shared `SubscriptionRegistry` (which removes a closing connection's topics itself). On
 * token refresh, subscriptions the new claims no longer allow are dropped with
 * `reason: "revoked"`.
 */
export abstract class NamespaceSubscriptions implements IdentityRefreshListener {
  protected constructor(
    readonly namespace: NamespaceName,
    protected readonly registry: SubscriptionRegistry,
    protected readonly authorization: RealtimeAuthorization,
  ) {}

  /** The frame telling a client that `topic` was dropped (its `*.unsubscribed` / `*.left`). */
  protected abstract droppedFrame(topic: string): WsResponse<Record<string, unknown>>;

  /**
   * Authorises, then subscribes; UNAUTHORIZED when denied, LIMIT_EXCEEDED at
   * WS_MAX_SUBSCRIPTIONS. Returns false when the connection was already subscribed.
   */
  async subscribe(connection: Connection, topic: string): Promise<boolean> {
    if (!(await this.authorization.canSubscribe(connection.identity, this.namespace, topic))) {
      throw RealtimeException.unauthorized();
    }
    const result = this.registry.subscribe(connection, topic);
    if (result === 'limit') throw RealtimeException.limitExceeded('Subscription limit reached for this connection');
    return result === 'subscribed';
  }

  unsubscribe(connection: Connection, topic: string): boolean {
    return this.registry.unsubscribe(connection, topic);
  }

  /** UNAUTHORIZED unless the connection has joined `topic` (sending to a room not joined, §5). */
  assertMember(connection: Connection, topic: string): void {
    if (!connection.hasTopic(topic)) throw RealtimeException.unauthorized();
  }

  onIdentityRefreshed(connection: Connection, identity: Identity): void {
    if (connection.namespace.name !== this.namespace) return;
    for (const topic of connection.topics()) {
      void Promise.resolve(this.authorization.canSubscribe(identity, this.namespace, topic)).then(
        (allowed) => {
          if (allowed || !this.registry.unsubscribe(connection, topic, 'revoked')) return;
          const frame = this.droppedFrame(topic);
          connection.send(JSON.stringify({ event: frame.event, data: { ...frame.data, reason: 'revoked' } }));
        },
        () => undefined,
      );
    }
  }
}
