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
  /**
   * Bytes of history held in all, every commodity together (CHAT_HISTORY_MAX_BYTES); past it the
   * least recently used commodities' histories are evicted whole (finding R1).
   */
  readonly maxBytes: number;
}

/**
 * What one message costs against `maxBytes`: its serialised size (UTF-8), so the budget is
 * never below the text it holds and short messages with long names are not free.
 */
export function chatEntryBytes(message: ChatMessage): number {
  return Buffer.byteLength(JSON.stringify(message), 'utf8');
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
  /** Kept as running counts: O(1), no walk of the history (scrapes call it). */
  sizes(): Promise<ChatHistorySizes>;
}

export interface ChatHistorySizes {
  readonly commodities: number;
  readonly messages: number;
  /** Bytes counted against CHAT_HISTORY_MAX_BYTES. */
  readonly bytes: number;
  /** Stored entries dropped on read since start for a failed signature or shape check (Redis). */
  readonly rejectedEntries?: number;
}

export const CHAT_HISTORY_STORE = Symbol('CHAT_HISTORY_STORE');

interface StoredMessage {
  readonly message: ChatMessage;
  readonly bytes: number;
}

interface History {
  readonly entries: StoredMessage[];
  bytes: number;
}

/**
 * Single-node history bounded by count, TTL, a cap on commodities and a byte budget over all
 * of them. The Map's insertion order is the LRU order (a use re-inserts), so the least
 * recently used commodity is always the first key.
 */
export class InMemoryChatHistoryStore implements ChatHistoryStore {
  private readonly byCommodity = new Map<number, History>();
  private messages = 0;
  private bytes = 0;

  constructor(
    private readonly bounds: ChatHistoryBounds,
    private readonly now: () => number = Date.now,
  ) {}

  async append(message: ChatMessage): Promise<void> {
    if (this.bounds.size === 0) return;
    const history = this.use(message.commodityId) ?? { entries: [], bytes: 0 };
    this.byCommodity.set(message.commodityId, history);
    const bytes = chatEntryBytes(message);
    history.entries.push({ message, bytes });
    history.bytes += bytes;
    this.messages += 1;
    this.bytes += bytes;
    if (history.entries.length > this.bounds.size) this.dropOldest(history, history.entries.length - this.bounds.size);
    this.evict(message.commodityId);
  }

  async recent(commodityId: number, limit: number): Promise<ChatMessage[]> {
    const history = this.use(commodityId);
    if (!history) return [];
    this.dropExpired(commodityId, history);
    return history.entries.slice(Math.max(0, history.entries.length - limit)).map((entry) => entry.message);
  }

  async sweep(): Promise<void> {
    for (const [commodityId, history] of [...this.byCommodity]) this.dropExpired(commodityId, history);
  }

  async sizes(): Promise<ChatHistorySizes> {
    return { commodities: this.byCommodity.size, messages: this.messages, bytes: this.bytes };
  }

  /** The history of `commodityId`, now the most recently used. */
  private use(commodityId: number): History | undefined {
    const history = this.byCommodity.get(commodityId);
    if (history) {
      this.byCommodity.delete(commodityId);
      this.byCommodity.set(commodityId, history);
    }
    return history;
  }

  /** Forgets least recently used commodities (never `current` while others remain) until both caps hold. */
  private evict(current: number): void {
    while (this.bytes > this.bounds.maxBytes || this.byCommodity.size > this.bounds.maxCommodities) {
      const victim = this.byCommodity.keys().next().value as number;
      if (victim !== current) {
        this.forget(victim);
        continue;
      }
      if (this.byCommodity.size > 1) {
        // `current` is least recent only if the caps changed; make it most recent and go on.
        this.use(current);
        continue;
      }
      // One commodity alone over the budget (a budget below one full history): its oldest go.
      const history = this.byCommodity.get(current)!;
      this.dropOldest(history, 1);
      if (history.entries.length === 0) this.forget(current);
    }
  }

  private forget(commodityId: number): void {
    const history = this.byCommodity.get(commodityId);
    if (!history) return;
    this.byCommodity.delete(commodityId);
    this.messages -= history.entries.length;
    this.bytes -= history.bytes;
  }

  private dropOldest(history: History, count: number): void {
    for (const { bytes } of history.entries.splice(0, count)) {
      history.bytes -= bytes;
      this.bytes -= bytes;
      this.messages -= 1;
    }
  }

  private dropExpired(commodityId: number, history: History): void {
    const cutoff = this.now() - this.bounds.ttlMs;
    let expired = 0;
    while (expired < history.entries.length && Date.parse(history.entries[expired]!.message.timestamp) <= cutoff) expired += 1;
    if (expired > 0) this.dropOldest(history, expired);
    if (history.entries.length === 0) this.forget(commodityId);
  }
}
