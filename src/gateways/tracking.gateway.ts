import { Inject } from '@nestjs/common';
import { MessageBody } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { replyTo } from '../protocol/namespace-descriptor.js';
import { TRACKING } from '../protocol/namespace-descriptors.js';
import { RecoverableStreams } from '../recovery/recoverable-streams.service.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { TopicSubscriptions } from '../subscriptions/topic-subscriptions.service.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { TrackingIdDto, TrackingSubscribeDto } from './dto/tracking.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { streamReply } from './stream-reply.js';
import { OnClientEvent, RealtimeNamespace } from './realtime-namespace.decorator.js';

const { subscribe, unsubscribe } = TRACKING.client;

/** /ws/tracking: shipment updates by tracking id; anonymous allowed at the stricter rate. */
@RealtimeNamespace(TRACKING)
export class TrackingGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
    @Inject(RecoverableStreams) private readonly streams: RecoverableStreams,
  ) {
    super(sessionAuth);
  }

  /** Answers with the stream's position; with `since`, what was missed (docs/protocol.md §10). */
  @OnClientEvent(subscribe)
  async subscribe(@CurrentConnection() client: Connection, @MessageBody() body: TrackingSubscribeDto) {
    return streamReply(subscribe, { trackingId: body.trackingId }, await this.streams.subscribe(client, body.trackingId, body.since));
  }

  @OnClientEvent(unsubscribe)
  unsubscribe(@CurrentConnection() client: Connection, @MessageBody() body: TrackingIdDto) {
    this.topics.unsubscribe(client, body.trackingId);
    return replyTo(unsubscribe, { trackingId: body.trackingId });
  }
}
