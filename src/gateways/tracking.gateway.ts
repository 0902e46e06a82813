import { Inject } from '@nestjs/common';
import { MessageBody } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { replyTo } from '../protocol/namespace-descriptor.js';
import { TRACKING } from '../protocol/namespace-descriptors.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { TopicSubscriptions } from '../subscriptions/topic-subscriptions.service.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { TrackingIdDto } from './dto/tracking.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { OnClientEvent, RealtimeNamespace } from './realtime-namespace.decorator.js';

const { subscribe, unsubscribe } = TRACKING.client;

/** /ws/tracking: shipment updates by tracking id; anonymous allowed at the stricter rate. */
@RealtimeNamespace(TRACKING)
export class TrackingGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
  ) {
    super(sessionAuth);
  }

  @OnClientEvent(subscribe)
  async subscribe(@CurrentConnection() client: Connection, @MessageBody() body: TrackingIdDto) {
    await this.topics.subscribe(client, body.trackingId);
    return replyTo(subscribe, { trackingId: body.trackingId });
  }

  @OnClientEvent(unsubscribe)
  unsubscribe(@CurrentConnection() client: Connection, @MessageBody() body: TrackingIdDto) {
    this.topics.unsubscribe(client, body.trackingId);
    return replyTo(unsubscribe, { trackingId: body.trackingId });
  }
}
