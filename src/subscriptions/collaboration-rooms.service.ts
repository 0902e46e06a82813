import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import type { Connection, RateLimit } from '../connection/connection.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { COLLABORATION } from '../protocol/namespace-descriptors.js';
import { RealtimePublisher } from '../publishing/realtime-publisher.js';
import { ROOM_PRESENCE_STORE, type RoomJoinResult, type RoomMember, type RoomPresenceStore } from './room-presence.store.js';
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
  /**
   * Per room with a member on this node: its users as this node last read them from the
   * store (on each join through the store), minus the users seen leaving since. Answers a
   * re-join without a store call; a user who joined on another node since shows up at the
   * next join through the store here.
   */
  private readonly localView = new Map<string, Map<string, RoomMember>>();
  private readonly broadcastBytes: RateLimit;

  constructor(
    @Inject(SubscriptionRegistry) private readonly registry: SubscriptionRegistry,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
    @Inject(RealtimePublisher) private readonly publisher: RealtimePublisher,
    @Inject(ROOM_PRESENCE_STORE) private readonly presenceStore: RoomPresenceStore,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
  ) {
    registry.onLeave(COLLABORATION.name, (connection, roomId, reason) => {
      if (reason !== 'rejected') this.announceLeave(connection, roomId);
    });
    this.broadcastBytes = Object.freeze({ perSec: config.roomBroadcastBytesPerSec, burst: 2 * config.roomBroadcastBytesPerSec });
    this.departedSweep = setInterval(() => void this.announceDeparted(), DEPARTED_SWEEP_MS);
    this.departedSweep.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.departedSweep);
  }

  private async announceDeparted(): Promise<void> {
    try {
      for (const { roomId, user } of await this.presenceStore.sweepDeparted()) {
        this.localView.get(roomId)?.delete(user.userId);
        this.presence('', user, roomId, 'leave');
      }
    } catch (err) {
      this.logger.warn('room presence sweep failed', describeError(err));
    }
  }

  /**
   * docs/protocol.md §11: the room holds at most WS_MAX_ROOM_MEMBERS distinct users and one
   * user at most WS_MAX_ROOM_CONNECTIONS_PER_USER connections (LIMIT_EXCEEDED). A connection
   * already in the room gets `room.joined` again from this node's last view of the room,
   * without asking the store (finding R3: a re-join must cost nothing). A store failure
   * leaves no hidden member (finding R9): the subscription is undone, INTERNAL_ERROR.
   */
  async join(connection: Connection, roomId: string): Promise<readonly RoomMember[]> {
    if (connection.hasTopic(roomId)) {
      const known = this.localView.get(roomId);
      if (known) return [...known.values()];
      // Only while this connection's first join still waits for the store: ask it (idempotent there).
    }
    const member = memberOf(connection);
    if (!connection.hasTopic(roomId)) await this.topics.subscribe(connection, roomId);
    let result: RoomJoinResult;
    try {
      result = await this.presenceStore.join(roomId, connection.id, member, this.config.maxRoomMembers, this.config.maxRoomConnectionsPerUser);
    } catch (err) {
      this.undoFailedJoin(connection, roomId, member, err);
      throw new RealtimeException(ErrorCode.INTERNAL_ERROR);
    }
    if (!result.joined) {
      this.topics.reject(connection, roomId);
      throw RealtimeException.limitExceeded(result.full === 'user' ? 'Too many connections of this user in the room' : 'Room is full');
    }
    if (connection.closed || !connection.hasTopic(roomId)) {
      // Closed or left while the store answered: undo, so nothing is left behind.
      await this.presenceStore.leave(roomId, connection.id, member.userId);
      return result.members;
    }
    this.localView.set(roomId, new Map(result.members.map((m) => [m.userId, m])));
    if (result.firstOfUser) this.presence(connection.id, member, roomId, 'join');
    return result.members;
  }

  leave(connection: Connection, roomId: string): void {
    this.topics.unsubscribe(connection, roomId);
  }

  /**
   * Members only; at most WS_ROOM_BROADCAST_BYTES_PER_SEC raw frame bytes per connection,
   * bursts of twice that (docs/protocol.md §11: a 16 KiB frame copied to 499 members).
   */
  async broadcast(connection: Connection, roomId: string, data: Record<string, unknown>, frameBytes: number): Promise<void> {
    this.topics.assertMember(connection, roomId);
    const waitMs = connection.takeBudget(this.broadcastBytes, frameBytes, Date.now());
    if (waitMs > 0) throw new RealtimeException(ErrorCode.RATE_LIMITED, { retryAfterMs: waitMs });
    await this.publisher.toTopics(
      COLLABORATION,
      [roomId],
      message,
      { roomId, from: memberOf(connection), data, timestamp: new Date().toISOString() },
      connection.id,
    );
  }

  /**
   * The store failed (or its answer was lost) during a join: drop the subscription without
   * leave side effects, and remove whatever the store may have recorded, so the connection
   * neither receives the room's messages nor counts as a member unseen by the others.
   */
  private undoFailedJoin(connection: Connection, roomId: string, member: RoomMember, err: unknown): void {
    this.logger.warn('room join failed in the presence store', { roomId, connectionId: connection.id, ...describeError(err) });
    this.topics.reject(connection, roomId);
    this.presenceStore
      .leave(roomId, connection.id, member.userId)
      .catch((leaveErr: unknown) => this.logger.warn('room join compensation failed', describeError(leaveErr)));
  }

  /** After a connection left `roomId` (any way): tell the others if its user has no connection left there. */
  private announceLeave(connection: Connection, roomId: string): void {
    const connectionId = connection.id;
    const member = memberOf(connection);
    this.presenceStore.leave(roomId, connectionId, member.userId).then(
      (lastOfUser) => {
        this.forgetIfUnused(roomId);
        if (!lastOfUser) return;
        this.localView.get(roomId)?.delete(member.userId);
        this.presence(connectionId, member, roomId, 'leave');
      },
      (err: unknown) => this.logger.warn('room presence leave failed', describeError(err)),
    );
  }

  /** The view of a room goes with its last local member (bounded by the rooms joined here). */
  private forgetIfUnused(roomId: string): void {
    if (this.registry.subscriberCount(COLLABORATION.name, roomId) === 0) this.localView.delete(roomId);
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
