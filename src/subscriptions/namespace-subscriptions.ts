import type { OnGatewayDisconnect, WsResponse } from '@nestjs/websockets';
import type { Identity } from '../auth/identity.js';
import type { RealtimeAuthorization } from '../auth/realtime-authorization.js';
import type { RealtimeSocket } from '../connection/client-session.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import type { NamespaceName } from '../protocol/namespaces.js';
import type { IdentityRefreshListener } from '../session/identity-refresh.listener.js';
import type { SubscriptionRegistry } from './subscription-registry.js';

/**
 * Base of the per-namespace subscription services: authorisation and caps over the
 * shared `SubscriptionRegistry`, which they clean on disconnect. On token refresh,
 * subscriptions the new claims no longer allow are dropped with `reason: "revoked"`.
 */
export abstract class NamespaceSubscriptions implements OnGatewayDisconnect<RealtimeSocket>, IdentityRefreshListener {
  protected constructor(
    readonly namespace: NamespaceName,
    protected readonly registry: SubscriptionRegistry,
    protected readonly authorization: RealtimeAuthorization,
  ) {}

  /** The frame telling a client that `topic` was dropped (its `*.unsubscribed` / `*.left`). */
  protected abstract droppedFrame(topic: string): WsResponse<Record<string, unknown>>;

  /**
   * Authorises, then subscribes; UNAUTHORIZED when denied, LIMIT_EXCEEDED at
   * WS_MAX_SUBSCRIPTIONS. Returns false when the socket was already subscribed.
   */
  async subscribe(socket: RealtimeSocket, topic: string): Promise<boolean> {
    if (!(await this.authorization.canSubscribe(socket.session.identity, this.namespace, topic))) {
      throw RealtimeException.unauthorized();
    }
    const result = this.registry.subscribe(socket, topic);
    if (result === 'limit') throw RealtimeException.limitExceeded('Subscription limit reached for this connection');
    return result === 'subscribed';
  }

  unsubscribe(socket: RealtimeSocket, topic: string): boolean {
    return this.registry.unsubscribe(socket, topic);
  }

  /** UNAUTHORIZED unless the socket has joined `topic` (sending to a room not joined, §5). */
  assertMember(socket: RealtimeSocket, topic: string): void {
    if (!this.registry.isSubscribed(socket, topic)) throw RealtimeException.unauthorized();
  }

  handleDisconnect(socket: RealtimeSocket): void {
    this.registry.removeConnection(socket);
  }

  onIdentityRefreshed(socket: RealtimeSocket, identity: Identity): void {
    if (socket.session.namespace.name !== this.namespace) return;
    for (const topic of [...this.registry.topicsOf(socket)]) {
      void Promise.resolve(this.authorization.canSubscribe(identity, this.namespace, topic)).then(
        (allowed) => {
          if (allowed || !this.registry.unsubscribe(socket, topic)) return;
          const frame = this.droppedFrame(topic);
          socket.sendFrame(JSON.stringify({ event: frame.event, data: { ...frame.data, reason: 'revoked' } }));
          this.afterDrop(socket, topic);
        },
        () => undefined,
      );
    }
  }

  /** Hook for namespaces with side effects on leaving (presence). */
  protected afterDrop(_socket: RealtimeSocket, _topic: string): void {}
}
