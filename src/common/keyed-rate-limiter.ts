import { LruMap } from './lru-map.js';
import { TokenBucket } from './token-bucket.js';

interface Entry {
  readonly bucket: TokenBucket;
  lastUsed: number;
}

/**
 * One token bucket per key (e.g. per user over all their connections), bounded (finding
 * 24): a bucket untouched for as long as it takes to refill completely is identical to a
 * fresh one, so it is dropped without loss; past `capacity` keys the least recently used
 * goes. Entries sit in use order, so the idle ones are always at the front.
 */
export class KeyedRateLimiter {
  private readonly entries: LruMap<string, Entry>;
  /** Time for an empty bucket to refill completely. */
  private readonly idleMs: number;

  constructor(
    private readonly perSec: number,
    private readonly burst: number,
    capacity: number,
  ) {
    this.entries = new LruMap(capacity);
    this.idleMs = Math.ceil((burst / perSec) * 1000);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Takes one token for `key`; returns 0 when allowed, otherwise the milliseconds until one is available. */
  take(key: string, now: number): number {
    this.dropIdle(now);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { bucket: new TokenBucket(this.perSec, this.burst, now), lastUsed: now };
      this.entries.set(key, entry);
    }
    entry.lastUsed = now;
    return entry.bucket.take(now);
  }

  private dropIdle(now: number): void {
    for (const key of this.entries.keys()) {
      if (now - this.entries.peek(key)!.lastUsed < this.idleMs) return;
      this.entries.delete(key);
    }
  }
}
