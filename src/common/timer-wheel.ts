/**
 * One shared timer for every per-connection deadline (heartbeats, auth timeouts, token
 * expiry). Deadlines are grouped into slots of `resolutionMs`; a single interval runs while
 * any are pending. Much cheaper than a `setTimeout` per connection per concern.
 */
export class TimerTask {
  /** Slot index while scheduled, otherwise undefined. */
  slot: number | undefined = undefined;

  constructor(readonly run: () => void) {}
}

export class TimerWheel {
  private readonly slots = new Map<number, Set<TimerTask>>();
  private interval: NodeJS.Timeout | undefined;
  private processedUpTo: number;
  private pending = 0;

  constructor(
    private readonly resolutionMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.processedUpTo = Math.floor(now() / resolutionMs);
  }

  get size(): number {
    return this.pending;
  }

  /** Schedules (or reschedules) `task` to run at `at` (epoch ms), rounded up to a slot. */
  schedule(task: TimerTask, at: number): void {
    this.cancel(task);
    if (!this.interval) this.processedUpTo = Math.floor(this.now() / this.resolutionMs);
    const slot = Math.max(Math.ceil(at / this.resolutionMs), this.processedUpTo + 1);
    let bucket = this.slots.get(slot);
    if (!bucket) {
      bucket = new Set();
      this.slots.set(slot, bucket);
    }
    bucket.add(task);
    task.slot = slot;
    this.pending += 1;
    if (!this.interval) {
      this.interval = setInterval(() => this.tick(), this.resolutionMs);
      this.interval.unref();
    }
  }

  cancel(task: TimerTask): void {
    if (task.slot === undefined) return;
    const bucket = this.slots.get(task.slot);
    // A bucket being run by tick() is already detached; tick() does the accounting then.
    if (bucket?.delete(task)) {
      this.pending -= 1;
      if (bucket.size === 0) this.slots.delete(task.slot);
    }
    task.slot = undefined;
    if (this.pending === 0) this.stop();
  }

  /** Cancels everything; used at shutdown. */
  clear(): void {
    for (const bucket of this.slots.values()) for (const task of bucket) task.slot = undefined;
    this.slots.clear();
    this.pending = 0;
    this.stop();
  }

  private stop(): void {
    if (this.interval) {
      clearInterval(this.interval);
      this.interval = undefined;
    }
  }

  private tick(): void {
    const current = Math.floor(this.now() / this.resolutionMs);
    while (this.processedUpTo < current) {
      this.processedUpTo += 1;
      const bucket = this.slots.get(this.processedUpTo);
      if (!bucket) continue;
      this.slots.delete(this.processedUpTo);
      for (const task of bucket) {
        // Every entry of the detached bucket is accounted for here; a task cancelled or
        // moved by an earlier task of this slot no longer points at it and is skipped.
        this.pending -= 1;
        if (task.slot !== this.processedUpTo) continue;
        task.slot = undefined;
        try {
          task.run();
        } catch (err) {
          this.onError(err);
        }
      }
    }
    if (this.pending === 0) this.stop();
  }
}
