/**
 * Token bucket: `capacity` tokens, refilled at `ratePerSec`. Holds two numbers, so it can
 * live on the connection it limits and vanish with it.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.updatedAt = now;
  }

  /**
   * Takes `cost` tokens (one by default); returns 0 when allowed, otherwise the milliseconds
   * until that many are available. A cost above the capacity is charged as the capacity, so
   * it passes once the bucket is full instead of never.
   */
  take(now: number, cost = 1): number {
    this.refill(now);
    const needed = Math.min(cost, this.capacity);
    if (this.tokens >= needed) {
      this.tokens -= needed;
      return 0;
    }
    return Math.max(1, Math.ceil(((needed - this.tokens) / this.ratePerSec) * 1000));
  }

  private refill(now: number): void {
    const elapsed = now - this.updatedAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + (elapsed / 1000) * this.ratePerSec);
      this.updatedAt = now;
    }
  }
}
