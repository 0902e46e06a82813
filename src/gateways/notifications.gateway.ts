import { Inject } from '@nestjs/common';
import { MessageBody, SubscribeMessage, type WsResponse } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { MaxMessageSize } from '../decorators/max-message-size.decorator.js';
import { FrameCap } from '../protocol/events.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { NotificationSubscriptions } from '../subscriptions/notification-subscriptions.service.js';
import { EmptyDto } from './dto/session.dto.js';
import { NotificationsSubscribeDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { RealtimeNamespace } from './realtime-namespace.decorator.js';

/** /ws/notifications: a user's own notifications, on every connection that subscribed. */
@RealtimeNamespace('notifications')
export class NotificationsGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(NotificationSubscriptions) private readonly notifications: NotificationSubscriptions,
  ) {
    super(sessionAuth);
  }

  /** `userId` may be given but must be the caller's own (authorisation decides). */
  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('notifications.subscribe')
  async subscribe(@CurrentConnection() client: Connection, @MessageBody() body: NotificationsSubscribeDto): Promise<WsResponse> {
    const userId = body.userId ?? client.userId!;
    await this.notifications.subscribe(client, userId);
    return { event: 'notifications.subscribed', data: { userId } };
  }

  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('notifications.unsubscribe')
  unsubscribe(@CurrentConnection() client: Connection, @MessageBody() _body: EmptyDto): WsResponse {
    const userId = client.userId!;
    this.notifications.unsubscribe(client, userId);
    return { event: 'notifications.unsubscribed', data: { userId } };
  }
}
