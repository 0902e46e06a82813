import { Inject, Injectable } from '@nestjs/common';
import type { WsResponse } from '@nestjs/websockets';
import { REALTIME_AUTHORIZATION, type RealtimeAuthorization } from '../auth/realtime-authorization.js';
import { NamespaceSubscriptions } from './namespace-subscriptions.js';
import { SubscriptionRegistry } from './subscription-registry.js';

/** The admin live activity feed (role admin by default). */
@Injectable()
export class ActivitySubscriptions extends NamespaceSubscriptions {
  constructor(
    @Inject(SubscriptionRegistry) registry: SubscriptionRegistry,
    @Inject(REALTIME_AUTHORIZATION) authorization: RealtimeAuthorization,
  ) {
    super('activity', registry, authorization);
  }

  protected droppedFrame(): WsResponse<Record<string, unknown>> {
    return { event: 'activity.unsubscribed', data: {} };
  }
}
