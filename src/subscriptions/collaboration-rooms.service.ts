import { Inject, Injectable } from '@nestjs/common';
import type { WsResponse } from '@nestjs/websockets';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { REALTIME_AUTHORIZATION, type RealtimeAuthorization } from '../auth/realtime-authorization.js';
import type { RealtimeSocket } from '../connection/client-session.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { BROKER, type Broker } from '../publishing/broker.js';
import { NamespaceSubscriptions } from './namespace-subscriptions.js';
import { SubscriptionRegistry } from './subscription-registry.js';

export interface RoomMember {
  readonly userId: string;
  readonly username: string;
}

/**
 * Collaboration rooms (topic = roomId) with presence per user: `join` when a user's first
 * connection enters, `leave` when the last one goes, on any close path (finding 20: empty
 * rooms vanish with their last member, through the registry).
 */
@Injectable()
export class CollaborationRooms extends NamespaceSubscriptions {
  constructor(
    @Inject(SubscriptionRegistry) registry: SubscriptionRegistry,
    @Inject(REALTIME_AUTHORIZATION) authorization: RealtimeAuthorization,
    @Inject(BROKER) private readonly broker: Broker,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
  ) {
    super('collaboration', registry, authorization);
  }

  async join(socket: RealtimeSocket, roomId: string): Promise<RoomMember[]> {
    if (!this.registry.isSubscribed(socket, roomId)) {
      if (this.registry.subscribers(this.namespace, roomId).size >= this.config.maxRoomMembers) {
        throw RealtimeException.limitExceeded('Room is full');
      }
      const firstOfUser = !this.userPresent(roomId, socket);
      if ((await this.subscribe(socket, roomId)) && firstOfUser) this.presence(socket, roomId, 'join');
    }
    return this.members(roomId);
  }

  leave(socket: RealtimeSocket, roomId: string): void {
    if (this.unsubscribe(socket, roomId)) this.afterDrop(socket, roomId);
  }

  async broadcast(socket: RealtimeSocket, roomId: string, data: Record<string, unknown>): Promise<void> {
    this.assertMember(socket, roomId);
    await this.broker.publish({
      type: 'topic',
      namespace: this.namespace,
      topics: [roomId],
      event: 'room.message',
      data: { roomId, from: memberOf(socket), data, timestamp: new Date().toISOString() },
      except: socket.session.id,
    });
  }

  override handleDisconnect(socket: RealtimeSocket): void {
    for (const roomId of this.registry.removeConnection(socket)) this.afterDrop(socket, roomId);
  }

  protected droppedFrame(roomId: string): WsResponse<Record<string, unknown>> {
    return { event: 'room.left', data: { roomId } };
  }

  /** After a socket left `roomId`: tell the others if its user has no connection left there. */
  protected override afterDrop(socket: RealtimeSocket, roomId: string): void {
    if (!this.userPresent(roomId, socket)) this.presence(socket, roomId, 'leave');
  }

  /** Distinct users in the room, one entry per user whatever their number of tabs. */
  members(roomId: string): RoomMember[] {
    const byUser = new Map<string, RoomMember>();
    for (const member of this.registry.subscribers(this.namespace, roomId)) {
      const m = memberOf(member);
      if (!byUser.has(m.userId)) byUser.set(m.userId, m);
    }
    return [...byUser.values()];
  }

  /** Whether another connection of the socket's user is in the room. */
  private userPresent(roomId: string, socket: RealtimeSocket): boolean {
    const userId = socket.session.userId;
    for (const member of this.registry.subscribers(this.namespace, roomId)) {
      if (member !== socket && member.session.userId === userId) return true;
    }
    return false;
  }

  private presence(socket: RealtimeSocket, roomId: string, action: 'join' | 'leave'): void {
    void this.broker.publish({
      type: 'topic',
      namespace: this.namespace,
      topics: [roomId],
      event: 'room.presence',
      data: { roomId, action, user: memberOf(socket) },
      except: socket.session.id,
    });
  }
}

function memberOf(socket: RealtimeSocket): RoomMember {
  const identity = socket.session.identity;
  return { userId: identity?.userId ?? '', username: identity?.username ?? '' };
}
