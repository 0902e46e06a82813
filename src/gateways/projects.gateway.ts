import { Inject } from '@nestjs/common';
import { MessageBody } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { replyTo } from '../protocol/namespace-descriptor.js';
import { PROJECTS } from '../protocol/namespace-descriptors.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { TopicSubscriptions } from '../subscriptions/topic-subscriptions.service.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { ProjectIdDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { OnClientEvent, RealtimeNamespace } from './realtime-namespace.decorator.js';

const { subscribe, unsubscribe } = PROJECTS.client;

/** /ws/projects: project update feeds, authorised per project. */
@RealtimeNamespace(PROJECTS)
export class ProjectsGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
  ) {
    super(sessionAuth);
  }

  @OnClientEvent(subscribe)
  async subscribe(@CurrentConnection() client: Connection, @MessageBody() body: ProjectIdDto) {
    await this.topics.subscribe(client, body.projectId);
    return replyTo(subscribe, { projectId: body.projectId });
  }

  @OnClientEvent(unsubscribe)
  unsubscribe(@CurrentConnection() client: Connection, @MessageBody() body: ProjectIdDto) {
    this.topics.unsubscribe(client, body.projectId);
    return replyTo(unsubscribe, { projectId: body.projectId });
  }
}
