import { Inject, Injectable } from '@nestjs/common';
import type { WsResponse } from '@nestjs/websockets';
import { REALTIME_AUTHORIZATION, type RealtimeAuthorization } from '../auth/realtime-authorization.js';
import { NamespaceSubscriptions } from './namespace-subscriptions.js';
import { SubscriptionRegistry } from './subscription-registry.js';

/** Project update feeds, topic = projectId; needs the `projects` claim or role admin by default. */
@Injectable()
export class ProjectSubscriptions extends NamespaceSubscriptions {
  constructor(
    @Inject(SubscriptionRegistry) registry: SubscriptionRegistry,
    @Inject(REALTIME_AUTHORIZATION) authorization: RealtimeAuthorization,
  ) {
    super('projects', registry, authorization);
  }

  protected droppedFrame(projectId: string): WsResponse<Record<string, unknown>> {
    return { event: 'project.unsubscribed', data: { projectId } };
  }
}
