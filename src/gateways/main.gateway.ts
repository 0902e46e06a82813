import { Inject } from '@nestjs/common';
import { MAIN } from '../protocol/namespace-descriptors.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { RealtimeNamespace } from './realtime-namespace.decorator.js';

/** /ws/main: session events and `system.announcement` pushes only. */
@RealtimeNamespace(MAIN)
export class MainGateway extends RealtimeGateway {
  constructor(@Inject(SessionAuthService) sessionAuth: SessionAuthService) {
    super(sessionAuth);
  }
}
