import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import type { Connection } from '../connection/connection.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { COMMODITY } from '../protocol/namespace-descriptors.js';
import { RealtimePublisher } from '../publishing/realtime-publisher.js';
import { SubscriptionRegistry } from '../subscriptions/subscription-registry.js';
import { COMMODITY_MEMBER_STORE, type RoomJoinResult, type RoomMember, type RoomPresenceStore } from '../subscriptions/room-presence.store.js';
import { TopicSubscriptions } from '../subscriptions/topic-subscriptions.service.js';
import { CHAT_HISTORY_STORE, type ChatHistoryStore, type ChatMessage } from './chat-history.store.js';
import { CHAT_RATE_LIMITER, type ChatRateLimiter } from './chat-rate-limiter.js';

/** `commodity.joined` returns at most this many messages (docs/protocol.md §5). */
export const JOIN_HISTORY_LIMIT = 50;
/** How often expired history is swept, at most. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

/** Commodity chat rooms (topic = commodityId) with bounded history (finding 8). */
@Injectable()
export class CommodityChat implements OnApplicationShutdown {
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    @Inject(SubscriptionRegistry) registry: SubscriptionRegistry,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
    @Inject(RealtimePublisher) private readonly publisher: RealtimePublisher,
    @Inject(CHAT_HISTORY_STORE) private readonly history: ChatHistoryStore,
    @Inject(COMMODITY_MEMBER_STORE) private readonly members: RoomPresenceStore,
    @Inject(CHAT_RATE_LIMITER) private readonly userRates: ChatRateLimiter,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
  ) {
    registry.onLeave(COMMODITY.name, (connection, topic, reason) => {
      if (reason !== 'rejected') this.forgetMember(connection, topic);
    });
    this.sweeper = setInterval(
      () => this.history.sweep().catch((err: unknown) => this.logger.warn('chat history sweep failed', describeError(err))),
      Math.min(config.chatHistoryTtlMs, MAX_SWEEP_INTERVAL_MS),
    );
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
  }

  /**
   * At most WS_MAX_ROOM_MEMBERS distinct users per commodity, counted across nodes by the
   * member store (docs/protocol.md §11); joining again costs no store call. A store failure
   * leaves no hidden member (as finding R9 for rooms): the subscription is undone, INTERNAL_ERROR.
   */
  async join(connection: Connection, commodityId: number): Promise<ChatMessage[]> {
    const topic = String(commodityId);
    if (await this.topics.subscribe(connection, topic)) {
      const member = memberOf(connection);
      let result: RoomJoinResult;
      try {
        result = await this.members.join(topic, connection.id, member, this.config.maxRoomMembers);
      } catch (err) {
        this.logger.warn('commodity join failed in the member store', { commodityId, connectionId: connection.id, ...describeError(err) });
        this.topics.reject(connection, topic);
        this.forgetMember(connection, topic);
        throw new RealtimeException(ErrorCode.INTERNAL_ERROR);
      }
      if (!result.joined) {
        this.topics.reject(connection, topic);
        throw RealtimeException.limitExceeded('Commodity room is full');
      }
      // Closed or left while the store answered: the leave hook ran before the join landed.
      if (connection.closed || !connection.hasTopic(topic)) this.forgetMember(connection, topic);
    }
    return this.history.recent(commodityId, Math.min(JOIN_HISTORY_LIMIT, this.config.chatHistorySize));
  }

  /** Users with chat rate state held on this node, and commodities with a member on this node. */
  async stats(): Promise<{ rateLimitedUsers: number; commodities: number }> {
    return { rateLimitedUsers: this.userRates.localUsers(), commodities: await this.members.rooms() };
  }

  private forgetMember(connection: Connection, topic: string): void {
    this.members
      .leave(topic, connection.id, memberOf(connection).userId)
      .catch((err: unknown) => this.logger.warn('commodity leave failed in the member store', describeError(err)));
  }

  leave(connection: Connection, commodityId: number): void {
    this.topics.unsubscribe(connection, String(commodityId));
  }

  /** Stores then fans out to every member, the sender included; returns the stored message. */
  async send(connection: Connection, commodityId: number, text: string): Promise<ChatMessage> {
    const topic = String(commodityId);
    this.topics.assertMember(connection, topic);
    const identity = connection.identity!;
    // Per user over all their connections (finding R1: one account at 640 messages/s).
    const waitMs = await this.userRates.take(identity.userId);
    if (waitMs > 0) throw new RealtimeException(ErrorCode.RATE_LIMITED, { retryAfterMs: waitMs });
    const message: ChatMessage = {
      id: randomUUID(),
      commodityId,
      userId: identity.userId,
      username: identity.username,
      text,
      timestamp: new Date().toISOString(),
    };
    await this.history.append(message);
    await this.publisher.toTopics(COMMODITY, [topic], COMMODITY.push.message, { ...message });
    return message;
  }
}

/** The member a connection counts as: its user (commodity is authenticated; the id is a fallback). */
function memberOf(connection: Connection): RoomMember {
  return { userId: connection.userId ?? `connection:${connection.id}`, username: connection.identity?.username ?? '' };
}
