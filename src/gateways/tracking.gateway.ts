import { Inject } from '@nestjs/common';
import { MessageBody, SubscribeMessage, type WsResponse } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { MaxMessageSize } from '../decorators/max-message-size.decorator.js';
import { Public } from '../decorators/public.decorator.js';
import { FrameCap } from '../protocol/events.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { TrackingSubscriptions } from '../subscriptions/tracking-subscriptions.service.js';
import { TrackingIdDto } from './dto/tracking.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { RealtimeNamespace } from './realtime-namespace.decorator.js';

/** /ws/tracking: shipment updates by tracking id; anonymous allowed at the stricter rate. */
@RealtimeNamespace('tracking')
export class TrackingGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(TrackingSubscriptions) private readonly tracking: TrackingSubscriptions,
  ) {
    super(sessionAuth);
  }

  @Public()
  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('tracking.subscribe')
  async subscribe(@CurrentConnection() client: Connection, @MessageBody() body: TrackingIdDto): Promise<WsResponse<TrackingIdDto>> {
    await this.tracking.subscribe(client, body.trackingId);
    return { event: 'tracking.subscribed', data: { trackingId: body.trackingId } };
  }

  @Public()
  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('tracking.unsubscribe')
  unsubscribe(@CurrentConnection() client: Connection, @MessageBody() body: TrackingIdDto): WsResponse<TrackingIdDto> {
    this.tracking.unsubscribe(client, body.trackingId);
    return { event: 'tracking.unsubscribed', data: { trackingId: body.trackingId } };
  }
}
