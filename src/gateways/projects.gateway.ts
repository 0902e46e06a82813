import { Inject } from '@nestjs/common';
import { MessageBody } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { replyTo } from '../protocol/namespace-descriptor.js';
import { PROJECTS } from '../protocol/namespace-descriptors.js';
import { RecoverableStreams } from '../recovery/recoverable-streams.service.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { TopicSubscriptions } from '../subscriptions/topic-subscriptions.service.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { ProjectIdDto, ProjectSubscribeDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { streamReply } from './stream-reply.js';
import { OnClientEvent, RealtimeNamespace } from './realtime-namespace.decorator.js';

const { subscribe, unsubscribe } = PROJECTS.client;

/** /ws/projects: project update feeds, authorised per project. */
@RealtimeNamespace(PROJECTS)
export class ProjectsGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
    @Inject(RecoverableStreams) private readonly streams: RecoverableStreams,
  ) {
    super(sessionAuth);
  }

  /** Answers with the stream's position; with `since`, what was missed (docs/protocol.md §10). */
  @OnClientEvent(subscribe)
  async subscribe(@CurrentConnection() client: Connection, @MessageBody() body: ProjectSubscribeDto) {
    return streamReply(subscribe, { projectId: body.projectId }, await this.streams.subscribe(client, body.projectId, body.since));
  }

  @OnClientEvent(unsubscribe)
  unsubscribe(@CurrentConnection() client: Connection, @MessageBody() body: ProjectIdDto) {
    this.topics.unsubscribe(client, body.projectId);
    return replyTo(unsubscribe, { projectId: body.projectId });
  }
}
