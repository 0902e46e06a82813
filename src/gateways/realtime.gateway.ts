import { UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { MessageBody, type WsResponse } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { IsoClock } from '../common/iso-clock.js';
import { WsExceptionFilter } from '../filters/ws-exception.filter.js';
import { MessageSizeGuard } from '../guards/message-size.guard.js';
import { WsJwtGuard } from '../guards/ws-jwt.guard.js';
import { MessageRateGuard } from '../guards/message-rate.guard.js';
import { WsValidationPipe } from '../pipes/ws-validation.pipe.js';
import { replyTo } from '../protocol/namespace-descriptor.js';
import { SESSION } from '../protocol/namespace-descriptors.js';
import type { SessionAuthService } from '../session/session-auth.service.js';
import { EmptyDto, TokenDto } from './dto/session.dto.js';
import { OnClientEvent } from './realtime-namespace.decorator.js';

/**
 * Base of every namespace gateway: binds the pipeline (throttle → frame cap → auth →
 * validation → filter), because Nest's global guards/pipes/filters do not reach gateways,
 * and serves the session events of docs/protocol.md §4 on every path. Nothing to clean
 * on disconnect: the lifecycle removes every trace of a closed connection itself.
 */
@UseFilters(WsExceptionFilter)
@UseGuards(MessageRateGuard, MessageSizeGuard, WsJwtGuard)
@UsePipes(WsValidationPipe)
export abstract class RealtimeGateway {
  private readonly clock = new IsoClock();

  protected constructor(protected readonly sessionAuth: SessionAuthService) {}

  @OnClientEvent(SESSION.client.auth)
  auth(@CurrentConnection() client: Connection, @MessageBody() body: TokenDto): Promise<WsResponse | undefined> {
    return this.sessionAuth.authenticate(client, body.token);
  }

  @OnClientEvent(SESSION.client.refresh)
  refresh(@CurrentConnection() client: Connection, @MessageBody() body: TokenDto): Promise<WsResponse | undefined> {
    return this.sessionAuth.refresh(client, body.token);
  }

  @OnClientEvent(SESSION.client.ping)
  ping(@MessageBody() _body: EmptyDto) {
    return replyTo(SESSION.client.ping, { timestamp: this.clock.now() });
  }
}
