import { Inject } from '@nestjs/common';
import { MessageBody } from '@nestjs/websockets';
import { ActivityBuffer } from '../activity/activity-buffer.js';
import { ACTIVITY_FEED_TOPIC } from '../activity/activity-sink.js';
import type { Connection } from '../connection/connection.js';
import { replyTo } from '../protocol/namespace-descriptor.js';
import { ACTIVITY } from '../protocol/namespace-descriptors.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { TopicSubscriptions } from '../subscriptions/topic-subscriptions.service.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { EmptyDto } from './dto/session.dto.js';
import { ActivityReportDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { OnClientEvent, RealtimeNamespace } from './realtime-namespace.decorator.js';

const { report, subscribe } = ACTIVITY.client;

/** /ws/activity: buffered activity reporting, and the live feed for admins. */
@RealtimeNamespace(ACTIVITY)
export class ActivityGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
    @Inject(ActivityBuffer) private readonly buffer: ActivityBuffer,
  ) {
    super(sessionAuth);
  }

  /** No reply on success (docs/protocol.md §5). */
  @OnClientEvent(report)
  report(@CurrentConnection() client: Connection, @MessageBody() body: ActivityReportDto): void {
    this.buffer.add({
      type: body.type,
      ...(body.target !== undefined ? { target: body.target } : {}),
      ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
      userId: client.userId!,
      timestamp: new Date().toISOString(),
    });
  }

  @OnClientEvent(subscribe)
  async subscribe(@CurrentConnection() client: Connection, @MessageBody() _body: EmptyDto) {
    await this.topics.subscribe(client, ACTIVITY_FEED_TOPIC);
    return replyTo(subscribe, {});
  }
}
