import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import type { Connection } from '../connection/connection.js';
import { KeyedRateLimiter } from '../common/keyed-rate-limiter.js';
import { RealtimeException } from '../errors/realtime.exception.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { COMMODITY } from '../protocol/namespace-descriptors.js';
import { RealtimePublisher } from '../publishing/realtime-publisher.js';
import { SubscriptionRegistry } from '../subscriptions/subscription-registry.js';
import { TopicSubscriptions } from '../subscriptions/topic-subscriptions.service.js';
import { CHAT_HISTORY_STORE, type ChatHistoryStore, type ChatMessage } from './chat-history.store.js';

/** `commodity.joined` returns at most this many messages (docs/protocol.md §5). */
export const JOIN_HISTORY_LIMIT = 50;
/** Per-user chat rate buckets kept at most; idle ones go first (they are full again anyway). */
const MAX_RATE_LIMITED_USERS = 100_000;
/** How often expired history is swept, at most. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

/** Commodity chat rooms (topic = commodityId) with bounded history (finding 8). */
@Injectable()
export class CommodityChat implements OnApplicationShutdown {
  private readonly sweeper: NodeJS.Timeout;
  /** Per commodity with a member on this node: connections per user (the member cap counts users). */
  private readonly members = new Map<string, Map<string, number>>();
  /** WS_CHAT_RATE_PER_SEC / WS_CHAT_RATE_BURST per user, bounded (finding 24). */
  private readonly userRates: KeyedRateLimiter;

  constructor(
    @Inject(SubscriptionRegistry) registry: SubscriptionRegistry,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
    @Inject(RealtimePublisher) private readonly publisher: RealtimePublisher,
    @Inject(CHAT_HISTORY_STORE) private readonly history: ChatHistoryStore,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
  ) {
    this.userRates = new KeyedRateLimiter(config.chatRatePerSec, config.chatRateBurst, MAX_RATE_LIMITED_USERS);
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

  /** At most WS_MAX_ROOM_MEMBERS distinct users per commodity on this node (docs/protocol.md §11). */
  async join(connection: Connection, commodityId: number): Promise<ChatMessage[]> {
    const topic = String(commodityId);
    if (await this.topics.subscribe(connection, topic)) {
      const userId = userKey(connection);
      let users = this.members.get(topic);
      if (!users?.has(userId) && (users?.size ?? 0) >= this.config.maxRoomMembers) {
        this.topics.reject(connection, topic);
        throw RealtimeException.limitExceeded('Commodity room is full');
      }
      if (!users) {
        users = new Map();
        this.members.set(topic, users);
      }
      users.set(userId, (users.get(userId) ?? 0) + 1);
    }
    return this.history.recent(commodityId, Math.min(JOIN_HISTORY_LIMIT, this.config.chatHistorySize));
  }

  /** Users with chat rate state held at most (more than the connections of a node hold). */
  stats(): { rateLimitedUsers: number; commodities: number } {
    return { rateLimitedUsers: this.userRates.size, commodities: this.members.size };
  }

  private forgetMember(connection: Connection, topic: string): void {
    const users = this.members.get(topic);
    const userId = userKey(connection);
    const left = (users?.get(userId) ?? 0) - 1;
    if (!users || left < 0) return;
    if (left > 0) users.set(userId, left);
    else if (users.delete(userId) && users.size === 0) this.members.delete(topic);
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
    const waitMs = this.userRates.take(identity.userId, Date.now());
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
function userKey(connection: Connection): string {
  return connection.userId ?? `connection:${connection.id}`;
}
