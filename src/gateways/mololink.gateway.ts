import { Inject } from '@nestjs/common';
import { MOLOLINK } from '../protocol/namespace-descriptors.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { RealtimeNamespace } from './realtime-namespace.decorator.js';

/** /ws/mololink: session events only; `mololink.*` pushes reach just the targeted users and roles. */
@RealtimeNamespace(MOLOLINK)
export class MololinkGateway extends RealtimeGateway {
  constructor(@Inject(SessionAuthService) sessionAuth: SessionAuthService) {
    super(sessionAuth);
  }
}
