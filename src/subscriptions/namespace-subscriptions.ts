import type { OnGatewayDisconnect } from '@nestjs/websockets';
import type { RealtimeSocket } from '../connection/client-session.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import type { SubscriptionRegistry } from './subscription-registry.js';

/**
 * Base of the per-namespace subscription services: thin policy over the shared
 * `SubscriptionRegistry`, which they clean on disconnect.
 */
export abstract class NamespaceSubscriptions implements OnGatewayDisconnect<RealtimeSocket> {
  protected constructor(protected readonly registry: SubscriptionRegistry) {}

  /** Subscribes, or throws LIMIT_EXCEEDED at WS_MAX_SUBSCRIPTIONS. Idempotent. */
  subscribe(socket: RealtimeSocket, topic: string): void {
    if (this.registry.subscribe(socket, topic) === 'limit') {
      throw RealtimeException.limitExceeded('Subscription limit reached for this connection');
    }
  }

  unsubscribe(socket: RealtimeSocket, topic: string): boolean {
    return this.registry.unsubscribe(socket, topic);
  }

  handleDisconnect(socket: RealtimeSocket): void {
    this.registry.removeConnection(socket);
  }
}
