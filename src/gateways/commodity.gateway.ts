import { Inject } from '@nestjs/common';
import { MessageBody, SubscribeMessage, type WsResponse } from '@nestjs/websockets';
import { CommodityChat } from '../chat/commodity-chat.service.js';
import type { Connection } from '../connection/connection.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { MaxMessageSize } from '../decorators/max-message-size.decorator.js';
import { FrameCap } from '../protocol/events.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { CommodityIdDto, CommodityMessageDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { RealtimeNamespace } from './realtime-namespace.decorator.js';

/** /ws/commodity: commodity chat rooms with bounded history. */
@RealtimeNamespace('commodity')
export class CommodityGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(CommodityChat) private readonly chat: CommodityChat,
  ) {
    super(sessionAuth);
  }

  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('commodity.join')
  async join(@CurrentConnection() client: Connection, @MessageBody() body: CommodityIdDto): Promise<WsResponse> {
    const history = await this.chat.join(client, body.commodityId);
    return { event: 'commodity.joined', data: { commodityId: body.commodityId, history } };
  }

  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('commodity.leave')
  leave(@CurrentConnection() client: Connection, @MessageBody() body: CommodityIdDto): WsResponse {
    this.chat.leave(client, body.commodityId);
    return { event: 'commodity.left', data: { commodityId: body.commodityId } };
  }

  @MaxMessageSize(FrameCap.COMMODITY_MESSAGE)
  @SubscribeMessage('commodity.message')
  async message(@CurrentConnection() client: Connection, @MessageBody() body: CommodityMessageDto): Promise<WsResponse> {
    const stored = await this.chat.send(client, body.commodityId, body.text);
    return { event: 'commodity.sent', data: { id: stored.id } };
  }
}
