import { Inject } from '@nestjs/common';
import { MessageBody } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { replyTo } from '../protocol/namespace-descriptor.js';
import { NOTIFICATIONS } from '../protocol/namespace-descriptors.js';
import { RecoverableStreams } from '../recovery/recoverable-streams.service.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { TopicSubscriptions } from '../subscriptions/topic-subscriptions.service.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { EmptyDto } from './dto/session.dto.js';
import { NotificationsSubscribeDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { streamReply } from './stream-reply.js';
import { OnClientEvent, RealtimeNamespace } from './realtime-namespace.decorator.js';

const { subscribe, unsubscribe } = NOTIFICATIONS.client;

/** /ws/notifications: a user's own notifications, on every connection that subscribed (topic = userId). */
@RealtimeNamespace(NOTIFICATIONS)
export class NotificationsGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
    @Inject(RecoverableStreams) private readonly streams: RecoverableStreams,
  ) {
    super(sessionAuth);
  }

  /**
   * `userId` may be given but must be the caller's own (authorisation decides). Answers with
   * the user's stream position; with `since`, what was missed (docs/protocol.md §10).
   */
  @OnClientEvent(subscribe)
  async subscribe(@CurrentConnection() client: Connection, @MessageBody() body: NotificationsSubscribeDto) {
    const userId = body.userId ?? client.userId!;
    return streamReply(subscribe, { userId }, await this.streams.subscribe(client, userId, body.since));
  }

  @OnClientEvent(unsubscribe)
  unsubscribe(@CurrentConnection() client: Connection, @MessageBody() _body: EmptyDto) {
    const userId = client.userId!;
    this.topics.unsubscribe(client, userId);
    return replyTo(unsubscribe, { userId });
  }
}
