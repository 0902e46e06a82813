/**
 * Events in the last `windowMs`, in one-second buckets: O(window/1s) memory, O(1) record.
 */
export class SlidingWindowCounter {
  private readonly buckets: number[];
  private readonly stamps: number[];

  constructor(
    windowMs = 60_000,
    private readonly bucketMs = 1000,
  ) {
    const n = Math.max(1, Math.ceil(windowMs / bucketMs));
    this.buckets = new Array<number>(n).fill(0);
    this.stamps = new Array<number>(n).fill(-1);
  }

  add(now: number, count = 1): void {
    const slot = Math.floor(now / this.bucketMs);
    const i = slot % this.buckets.length;
    if (this.stamps[i] !== slot) {
      this.stamps[i] = slot;
      this.buckets[i] = 0;
    }
    this.buckets[i]! += count;
  }

  total(now: number): number {
    const current = Math.floor(now / this.bucketMs);
    let sum = 0;
    for (let i = 0; i < this.buckets.length; i += 1) {
      if (current - this.stamps[i]! < this.buckets.length) sum += this.buckets[i]!;
    }
    return sum;
  }
}
