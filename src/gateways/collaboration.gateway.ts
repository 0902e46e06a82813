import { Inject } from '@nestjs/common';
import { MessageBody, SubscribeMessage, type WsResponse } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { MaxMessageSize } from '../decorators/max-message-size.decorator.js';
import { FrameCap } from '../protocol/events.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { CollaborationRooms } from '../subscriptions/collaboration-rooms.service.js';
import { RoomBroadcastDto, RoomIdDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { RealtimeNamespace } from './realtime-namespace.decorator.js';

/** /ws/collaboration: rooms with presence and member-to-member messages. */
@RealtimeNamespace('collaboration')
export class CollaborationGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(CollaborationRooms) private readonly rooms: CollaborationRooms,
  ) {
    super(sessionAuth);
  }

  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('room.join')
  async join(@CurrentConnection() client: Connection, @MessageBody() body: RoomIdDto): Promise<WsResponse> {
    const members = await this.rooms.join(client, body.roomId);
    return { event: 'room.joined', data: { roomId: body.roomId, members } };
  }

  @MaxMessageSize(FrameCap.CONTROL)
  @SubscribeMessage('room.leave')
  leave(@CurrentConnection() client: Connection, @MessageBody() body: RoomIdDto): WsResponse {
    this.rooms.leave(client, body.roomId);
    return { event: 'room.left', data: { roomId: body.roomId } };
  }

  /** No reply on success; the other members get `room.message`. */
  @MaxMessageSize(FrameCap.ROOM_BROADCAST)
  @SubscribeMessage('room.broadcast')
  async broadcast(@CurrentConnection() client: Connection, @MessageBody() body: RoomBroadcastDto): Promise<void> {
    await this.rooms.broadcast(client, body.roomId, body.data);
  }
}
