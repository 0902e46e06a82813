import { Inject } from '@nestjs/common';
import { MessageBody, SubscribeMessage, type WsResponse } from '@nestjs/websockets';
import { ActivityBuffer } from '../activity/activity-buffer.js';
import { ACTIVITY_FEED_TOPIC } from '../activity/activity-sink.js';
import type { Connection } from '../connection/connection.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { MaxMessageSize } from '../decorators/max-message-size.decorator.js';
import { FrameCap } from '../protocol/events.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { ActivitySubscriptions } from '../subscriptions/activity-subscriptions.service.js';
import { EmptyDto } from './dto/session.dto.js';
import { ActivityReportDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { RealtimeNamespace } from './realtime-namespace.decorator.js';

/** /ws/activity: buffered activity reporting, and the live feed for admins. */
@RealtimeNamespace('activity')
export class ActivityGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(ActivitySubscriptions) private readonly feed: ActivitySubscriptions,
    @Inject(ActivityBuffer) private readonly buffer: ActivityBuffer,
  ) {
    super(sessionAuth);
  }

  /** No reply on success (docs/protocol.md §5). */
  @MaxMessageSize(FrameCap.ACTIVITY_REPORT)
  @SubscribeMessage('activity.report')
  report(@CurrentConnection() client: Connection, @MessageBody() body: ActivityReportDto): void {
    this.buffer.add({
      type: body.type,
      ...(body.target !== undefined ? { target: body.target } : {}),
      ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
      userId: client.userId!,
      timestamp: new Date().toISOString(),
    });
  }

  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('activity.subscribe')
  async subscribe(@CurrentConnection() client: Connection, @MessageBody() _body: EmptyDto): Promise<WsResponse> {
    await this.feed.subscribe(client, ACTIVITY_FEED_TOPIC);
    return { event: 'activity.subscribed', data: {} };
  }
}
