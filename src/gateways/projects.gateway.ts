import { Inject } from '@nestjs/common';
import { MessageBody, SubscribeMessage, type WsResponse } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { MaxMessageSize } from '../decorators/max-message-size.decorator.js';
import { FrameCap } from '../protocol/events.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { ProjectSubscriptions } from '../subscriptions/project-subscriptions.service.js';
import { ProjectIdDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { RealtimeNamespace } from './realtime-namespace.decorator.js';

/** /ws/projects: project update feeds, authorised per project. */
@RealtimeNamespace('projects')
export class ProjectsGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(ProjectSubscriptions) private readonly projects: ProjectSubscriptions,
  ) {
    super(sessionAuth);
  }

  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('project.subscribe')
  async subscribe(@CurrentConnection() client: Connection, @MessageBody() body: ProjectIdDto): Promise<WsResponse> {
    await this.projects.subscribe(client, body.projectId);
    return { event: 'project.subscribed', data: { projectId: body.projectId } };
  }

  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('project.unsubscribe')
  unsubscribe(@CurrentConnection() client: Connection, @MessageBody() body: ProjectIdDto): WsResponse {
    this.projects.unsubscribe(client, body.projectId);
    return { event: 'project.unsubscribed', data: { projectId: body.projectId } };
  }
}
