import { Injectable, Logger } from '@nestjs/common';
import { RealtimePublisher } from '@logistics/realtime-layer';

/** The host's own service: pushes its domain events through the injected RealtimePublisher. */
@Injectable()
export class ShipmentEvents {
  private readonly logger = new Logger(ShipmentEvents.name);

  constructor(private readonly publisher: RealtimePublisher) {}

  /** `tracking.update` to the subscribers of the shipment; an invalid id is a 400 (PublishRejected). */
  async statusChanged(shipmentId: string, status: string): Promise<void> {
    await this.publisher.trackingUpdate(shipmentId, { status, updatedAt: new Date().toISOString() });
    this.logger.log(`shipment ${shipmentId} is now ${status}`);
  }

  /** `notification` to every subscribed connection of the user. */
  async notifyUser(userId: string, title: string): Promise<void> {
    await this.publisher.notify([userId], { type: 'shipment', title });
  }
}
