import { Inject } from '@nestjs/common';
import { MessageBody } from '@nestjs/websockets';
import type { Connection } from '../connection/connection.js';
import { replyTo } from '../protocol/namespace-descriptor.js';
import { COLLABORATION } from '../protocol/namespace-descriptors.js';
import { SessionAuthService } from '../session/session-auth.service.js';
import { CollaborationRooms } from '../subscriptions/collaboration-rooms.service.js';
import { CurrentConnection } from './current-connection.decorator.js';
import { RoomBroadcastDto, RoomIdDto } from './dto/namespace.dto.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { OnClientEvent, RealtimeNamespace } from './realtime-namespace.decorator.js';

const { join, leave, broadcast } = COLLABORATION.client;

/** /ws/collaboration: rooms with presence and member-to-member messages. */
@RealtimeNamespace(COLLABORATION)
export class CollaborationGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(CollaborationRooms) private readonly rooms: CollaborationRooms,
  ) {
    super(sessionAuth);
  }

  @OnClientEvent(join)
  async join(@CurrentConnection() client: Connection, @MessageBody() body: RoomIdDto) {
    const members = await this.rooms.join(client, body.roomId);
    return replyTo(join, { roomId: body.roomId, members });
  }

  @OnClientEvent(leave)
  leave(@CurrentConnection() client: Connection, @MessageBody() body: RoomIdDto) {
    this.rooms.leave(client, body.roomId);
    return replyTo(leave, { roomId: body.roomId });
  }

  /** No reply on success; the other members get `room.message`. */
  @OnClientEvent(broadcast)
  async broadcast(@CurrentConnection() client: Connection, @MessageBody() body: RoomBroadcastDto): Promise<void> {
    await this.rooms.broadcast(client, body.roomId, body.data);
  }
}
