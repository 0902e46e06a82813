import { KeyedRateLimiter } from '../common/keyed-rate-limiter.js';

/**
 * `commodity.message` per user over all their connections (docs/protocol.md §11:
 * WS_CHAT_RATE_PER_SEC, bursts of WS_CHAT_RATE_BURST). One node counts in memory; with Redis
 * every node takes from the same bucket, so a user spread over N nodes still gets the rate
 * once. Replace it through `CHAT_RATE_LIMITER`.
 */
export interface ChatRateLimiter {
  /** Takes one message from `userId`'s bucket: 0 when allowed, else the milliseconds until one is. */
  take(userId: string): Promise<number>;
  /** Users whose bucket this node holds in memory (0 when the buckets live in Redis). */
  localUsers(): number;
}

export const CHAT_RATE_LIMITER = Symbol('CHAT_RATE_LIMITER');

/** Buckets kept at most; idle ones go first (they are full again anyway; finding 24). */
const MAX_RATE_LIMITED_USERS = 100_000;

/** Single-node chat rate: one bounded token bucket per user. */
export class InMemoryChatRateLimiter implements ChatRateLimiter {
  private readonly buckets: KeyedRateLimiter;

  constructor(
    perSec: number,
    burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = new KeyedRateLimiter(perSec, burst, MAX_RATE_LIMITED_USERS);
  }

  async take(userId: string): Promise<number> {
    return this.buckets.take(userId, this.now());
  }

  localUsers(): number {
    return this.buckets.size;
  }
}
