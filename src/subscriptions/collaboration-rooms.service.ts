import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import type { Connection } from '../connection/connection.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { COLLABORATION } from '../protocol/namespace-descriptors.js';
import { RealtimePublisher } from '../publishing/realtime-publisher.js';
import { ROOM_PRESENCE_STORE, type RoomMember, type RoomPresenceStore } from './room-presence.store.js';
import { SubscriptionRegistry } from './subscription-registry.js';
import { TopicSubscriptions } from './topic-subscriptions.service.js';

const { message, presence } = COLLABORATION.push;

/**
 * Collaboration rooms (topic = roomId). Local delivery goes through the registry; who is
 * in a room across nodes lives in the `RoomPresenceStore`. Presence is per user: `join`
 * when a user's first connection enters, `leave` when the last one goes, on any close
 * path (the registry's leave hook; finding 20: empty rooms vanish with their last member).
 */
@Injectable()
export class CollaborationRooms implements OnApplicationShutdown {
  /** Announces the leave of members whose node died (they could not announce it themselves). */
  private readonly departedSweep: NodeJS.Timeout;

  constructor(
    @Inject(SubscriptionRegistry) registry: SubscriptionRegistry,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
    @Inject(RealtimePublisher) private readonly publisher: RealtimePublisher,
    @Inject(ROOM_PRESENCE_STORE) private readonly presenceStore: RoomPresenceStore,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
  ) {
    registry.onLeave(COLLABORATION.name, (connection, roomId, reason) => {
      if (reason !== 'rejected') this.announceLeave(connection, roomId);
    });
    this.departedSweep = setInterval(() => void this.announceDeparted(), DEPARTED_SWEEP_MS);
    this.departedSweep.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.departedSweep);
  }

  private async announceDeparted(): Promise<void> {
    try {
      for (const { roomId, user } of await this.presenceStore.sweepDeparted()) this.presence('', user, roomId, 'leave');
    } catch (err) {
      this.logger.warn('room presence sweep failed', describeError(err));
    }
  }

  async join(connection: Connection, roomId: string): Promise<readonly RoomMember[]> {
    const member = memberOf(connection);
    if (!connection.hasTopic(roomId)) await this.topics.subscribe(connection, roomId);
    const result = await this.presenceStore.join(roomId, connection.id, member, this.config.maxRoomMembers);
    if (!result.joined) {
      this.topics.reject(connection, roomId);
      throw RealtimeException.limitExceeded('Room is full');
    }
    if (connection.closed || !connection.hasTopic(roomId)) {
      // Closed or left while the store answered: undo, so nothing is left behind.
      await this.presenceStore.leave(roomId, connection.id, member.userId);
      return result.members;
    }
    if (result.firstOfUser) this.presence(connection.id, member, roomId, 'join');
    return result.members;
  }

  leave(connection: Connection, roomId: string): void {
    this.topics.unsubscribe(connection, roomId);
  }

  async broadcast(connection: Connection, roomId: string, data: Record<string, unknown>): Promise<void> {
    this.topics.assertMember(connection, roomId);
    await this.publisher.toTopics(
      COLLABORATION,
      [roomId],
      message,
      { roomId, from: memberOf(connection), data, timestamp: new Date().toISOString() },
      connection.id,
    );
  }

  /** After a connection left `roomId` (any way): tell the others if its user has no connection left there. */
  private announceLeave(connection: Connection, roomId: string): void {
    const connectionId = connection.id;
    const member = memberOf(connection);
    this.presenceStore.leave(roomId, connectionId, member.userId).then(
      (lastOfUser) => {
        if (lastOfUser) this.presence(connectionId, member, roomId, 'leave');
      },
      (err: unknown) => this.logger.warn('room presence leave failed', describeError(err)),
    );
  }

  private presence(connectionId: string, user: RoomMember, roomId: string, action: 'join' | 'leave'): void {
    this.publisher
      .toTopics(COLLABORATION, [roomId], presence, { roomId, action, user }, connectionId)
      .catch((err: unknown) => this.logger.warn('room presence publish failed', describeError(err)));
  }
}

/** How often rooms are checked for members of dead nodes. */
const DEPARTED_SWEEP_MS = 5000;

function memberOf(connection: Connection): RoomMember {
  const identity = connection.identity;
  return { userId: identity?.userId ?? '', username: identity?.username ?? '' };
}
