/**
 * Counts events in a sliding window with a fixed-size ring of timestamps: reports when
 * `limit` of them fall inside `windowMs`. Memory is bounded by `limit`.
 */
export class StrikeCounter {
  private readonly stamps: number[] = [];
  private next = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Records a strike at `now`; true when the limit is reached within the window. */
  hit(now: number): boolean {
    if (this.stamps.length < this.limit) {
      this.stamps.push(now);
    } else {
      this.stamps[this.next] = now;
    }
    this.next = (this.next + 1) % this.limit;
    if (this.stamps.length < this.limit) return false;
    // The slot about to be overwritten next is the oldest of the last `limit` strikes.
    return now - this.stamps[this.next]! < this.windowMs;
  }
}
