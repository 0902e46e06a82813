import { UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { ConnectedSocket, MessageBody, type OnGatewayDisconnect, SubscribeMessage, type WsResponse } from '@nestjs/websockets';
import type { RealtimeSocket } from '../connection/client-session.js';
import { IsoClock } from '../common/iso-clock.js';
import { MaxMessageSize } from '../decorators/max-message-size.decorator.js';
import { Public } from '../decorators/public.decorator.js';
import { WsExceptionFilter } from '../filters/ws-exception.filter.js';
import { MessageSizeGuard } from '../guards/message-size.guard.js';
import { WsJwtGuard } from '../guards/ws-jwt.guard.js';
import { WsThrottlerGuard } from '../guards/ws-throttler.guard.js';
import { WsValidationPipe } from '../pipes/ws-validation.pipe.js';
import { FrameCap, SessionEvent } from '../protocol/events.js';
import type { SessionAuthService } from '../session/session-auth.service.js';
import { EmptyDto, TokenDto } from './dto/session.dto.js';

/**
 * Base of every namespace gateway: binds the pipeline (throttle → frame cap → auth →
 * validation → filter), because Nest's global guards/pipes/filters do not reach gateways,
 * and serves the session events of docs/protocol.md §4 on every path.
 */
@UseFilters(WsExceptionFilter)
@UseGuards(WsThrottlerGuard, MessageSizeGuard, WsJwtGuard)
@UsePipes(WsValidationPipe)
export abstract class RealtimeGateway implements OnGatewayDisconnect<RealtimeSocket> {
  private readonly clock = new IsoClock();

  protected constructor(
    protected readonly sessionAuth: SessionAuthService,
    private readonly disconnectHooks: readonly OnGatewayDisconnect<RealtimeSocket>[] = [],
  ) {}

  handleDisconnect(client: RealtimeSocket): void {
    for (const hook of this.disconnectHooks) hook.handleDisconnect(client);
  }

  @Public()
  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage(SessionEvent.AUTH)
  auth(@ConnectedSocket() client: RealtimeSocket, @MessageBody() body: TokenDto): Promise<WsResponse | undefined> {
    return this.sessionAuth.authenticate(client, body.token);
  }

  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage(SessionEvent.AUTH_REFRESH)
  refresh(@ConnectedSocket() client: RealtimeSocket, @MessageBody() body: TokenDto): Promise<WsResponse | undefined> {
    return this.sessionAuth.refresh(client, body.token);
  }

  @Public()
  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage(SessionEvent.PING)
  ping(@MessageBody() _body: EmptyDto): WsResponse<{ timestamp: string }> {
    return { event: SessionEvent.PONG, data: { timestamp: this.clock.now() } };
  }
}
