import { Inject, Injectable } from '@nestjs/common';
import type { WsResponse } from '@nestjs/websockets';
import { REALTIME_AUTHORIZATION, type RealtimeAuthorization } from '../auth/realtime-authorization.js';
import { NamespaceSubscriptions } from './namespace-subscriptions.js';
import { SubscriptionRegistry } from './subscription-registry.js';

/**
 * A user's own notifications, topic = userId. Every subscribed connection of the user
 * (every tab) receives them (finding 4: no single-socket-per-user map).
 */
@Injectable()
export class NotificationSubscriptions extends NamespaceSubscriptions {
  constructor(
    @Inject(SubscriptionRegistry) registry: SubscriptionRegistry,
    @Inject(REALTIME_AUTHORIZATION) authorization: RealtimeAuthorization,
  ) {
    super('notifications', registry, authorization);
  }

  protected droppedFrame(userId: string): WsResponse<Record<string, unknown>> {
    return { event: 'notifications.unsubscribed', data: { userId } };
  }
}
