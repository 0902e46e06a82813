import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import type { Connection } from '../connection/connection.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { COMMODITY } from '../protocol/namespace-descriptors.js';
import { RealtimePublisher } from '../publishing/realtime-publisher.js';
import { TopicSubscriptions } from '../subscriptions/topic-subscriptions.service.js';
import { CHAT_HISTORY_STORE, type ChatHistoryStore, type ChatMessage } from './chat-history.store.js';

/** `commodity.joined` returns at most this many messages (docs/protocol.md §5). */
export const JOIN_HISTORY_LIMIT = 50;
/** How often expired history is swept, at most. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

/** Commodity chat rooms (topic = commodityId) with bounded history (finding 8). */
@Injectable()
export class CommodityChat implements OnApplicationShutdown {
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
    @Inject(RealtimePublisher) private readonly publisher: RealtimePublisher,
    @Inject(CHAT_HISTORY_STORE) private readonly history: ChatHistoryStore,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
  ) {
    this.sweeper = setInterval(
      () => this.history.sweep().catch((err: unknown) => this.logger.warn('chat history sweep failed', describeError(err))),
      Math.min(config.chatHistoryTtlMs, MAX_SWEEP_INTERVAL_MS),
    );
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
  }

  async join(connection: Connection, commodityId: number): Promise<ChatMessage[]> {
    await this.topics.subscribe(connection, String(commodityId));
    return this.history.recent(commodityId, Math.min(JOIN_HISTORY_LIMIT, this.config.chatHistorySize));
  }

  leave(connection: Connection, commodityId: number): void {
    this.topics.unsubscribe(connection, String(commodityId));
  }

  /** Stores then fans out to every member, the sender included; returns the stored message. */
  async send(connection: Connection, commodityId: number, text: string): Promise<ChatMessage> {
    const topic = String(commodityId);
    this.topics.assertMember(connection, topic);
    const identity = connection.identity!;
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
