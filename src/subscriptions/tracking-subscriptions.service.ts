import { Inject, Injectable } from '@nestjs/common';
import type { WsResponse } from '@nestjs/websockets';
import { REALTIME_AUTHORIZATION, type RealtimeAuthorization } from '../auth/realtime-authorization.js';
import { NamespaceSubscriptions } from './namespace-subscriptions.js';
import { SubscriptionRegistry } from './subscription-registry.js';

/** Shipment tracking subscriptions, topic = trackingId. */
@Injectable()
export class TrackingSubscriptions extends NamespaceSubscriptions {
  constructor(
    @Inject(SubscriptionRegistry) registry: SubscriptionRegistry,
    @Inject(REALTIME_AUTHORIZATION) authorization: RealtimeAuthorization,
  ) {
    super('tracking', registry, authorization);
  }

  protected droppedFrame(trackingId: string): WsResponse<Record<string, unknown>> {
    return { event: 'tracking.unsubscribed', data: { trackingId } };
  }
}
