import { Inject, Injectable } from '@nestjs/common';
import { NamespaceSubscriptions } from './namespace-subscriptions.js';
import { SubscriptionRegistry } from './subscription-registry.js';

/** Shipment tracking subscriptions: open to any connection allowed on /ws/tracking. */
@Injectable()
export class TrackingSubscriptions extends NamespaceSubscriptions {
  constructor(@Inject(SubscriptionRegistry) registry: SubscriptionRegistry) {
    super(registry);
  }
}
