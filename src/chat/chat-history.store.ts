import { LruMap } from '../common/lru-map.js';
import type { ChatMessageData } from '../protocol/namespace-descriptors.js';

/** One stored chat message: its wire form (docs/protocol.md §5 ChatMessage). */
export type ChatMessage = ChatMessageData;

export interface ChatHistoryBounds {
  /** Messages kept per commodity (CHAT_HISTORY_SIZE). */
  readonly size: number;
  /** Age after which a message is gone (CHAT_HISTORY_TTL_MS). */
  readonly ttlMs: number;
  /** Commodities with history at most; the least recently used is evicted (finding 8). */
  readonly maxCommodities: number;
}

/**
 * Commodity chat history. Replace it through `CHAT_HISTORY_STORE` (a Redis store shares
 * history across nodes).
 */
export interface ChatHistoryStore {
  append(message: ChatMessage): Promise<void>;
  /** The newest `limit` messages, oldest first, none older than the TTL. */
  recent(commodityId: number, limit: number): Promise<ChatMessage[]>;
  /** Drops expired messages and empty commodities. */
  sweep(): Promise<void>;
  sizes(): Promise<{ commodities: number; messages: number }>;
}

export const CHAT_HISTORY_STORE = Symbol('CHAT_HISTORY_STORE');

/** Single-node history bounded by count, TTL and an LRU cap on commodities. */
export class InMemoryChatHistoryStore implements ChatHistoryStore {
  private readonly byCommodity: LruMap<number, ChatMessage[]>;

  constructor(
    private readonly bounds: ChatHistoryBounds,
    private readonly now: () => number = Date.now,
  ) {
    this.byCommodity = new LruMap(bounds.maxCommodities);
  }

  async append(message: ChatMessage): Promise<void> {
    if (this.bounds.size === 0) return;
    const list = this.byCommodity.get(message.commodityId) ?? [];
    list.push(message);
    if (list.length > this.bounds.size) list.splice(0, list.length - this.bounds.size);
    this.byCommodity.set(message.commodityId, list);
  }

  async recent(commodityId: number, limit: number): Promise<ChatMessage[]> {
    const list = this.byCommodity.get(commodityId);
    if (!list) return [];
    this.dropExpired(commodityId, list);
    return list.slice(Math.max(0, list.length - limit));
  }

  async sweep(): Promise<void> {
    for (const commodityId of [...this.byCommodity.keys()]) {
      const list = this.byCommodity.peek(commodityId);
      if (list) this.dropExpired(commodityId, list);
    }
  }

  async sizes(): Promise<{ commodities: number; messages: number }> {
    let messages = 0;
    for (const commodityId of this.byCommodity.keys()) messages += this.byCommodity.peek(commodityId)?.length ?? 0;
    return { commodities: this.byCommodity.size, messages };
  }

  private dropExpired(commodityId: number, list: ChatMessage[]): void {
    const cutoff = this.now() - this.bounds.ttlMs;
    let expired = 0;
    while (expired < list.length && Date.parse(list[expired]!.timestamp) <= cutoff) expired += 1;
    if (expired > 0) list.splice(0, expired);
    if (list.length === 0) this.byCommodity.delete(commodityId);
  }
}
