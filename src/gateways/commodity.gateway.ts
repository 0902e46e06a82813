import { Inject } from '@nestjs/common';
import { MessageBody } from '@nestjs/websockets';
import { CommodityChat } from '../chat/commodity-chat.service.js';
import type { Connection } from '../connection/connection.js';
import { replyTo } from '../protocol/namespace-descriptor.js';
import { COMMODITY } from '../protocol/namespace-descriptors.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { CommodityIdDto, CommodityMessageDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { OnClientEvent, RealtimeNamespace } from './realtime-namespace.decorator.js';

const { join, leave, message } = COMMODITY.client;

/** /ws/commodity: commodity chat rooms with bounded history. */
@RealtimeNamespace(COMMODITY)
export class CommodityGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(CommodityChat) private readonly chat: CommodityChat,
  ) {
    super(sessionAuth);
  }

  @OnClientEvent(join)
  async join(@CurrentConnection() client: Connection, @MessageBody() body: CommodityIdDto) {
    const history = await this.chat.join(client, body.commodityId);
    return replyTo(join, { commodityId: body.commodityId, history });
  }

  @OnClientEvent(leave)
  leave(@CurrentConnection() client: Connection, @MessageBody() body: CommodityIdDto) {
    this.chat.leave(client, body.commodityId);
    return replyTo(leave, { commodityId: body.commodityId });
  }

  @OnClientEvent(message)
  async message(@CurrentConnection() client: Connection, @MessageBody() body: CommodityMessageDto) {
    const stored = await this.chat.send(client, body.commodityId, body.text);
    return replyTo(message, { id: stored.id });
  }
}
