/**
 * One shared timer for every per-connection deadline (heartbeats, auth timeouts, token
 * expiry). Deadlines are grouped into slots of `resolutionMs`; a single interval runs while
 * any are pending. Much cheaper than a `setTimeout` per connection per concern.
 */
/**
 * A deadline's state. `run` gets `owner` back, so one function can serve every task of a
 * kind (e.g. all heartbeats) instead of a closure per task.
 */
export class TimerTask<T = unknown> implements WheelEntry {
  /** Slot index while scheduled, otherwise undefined. */
  slot: number | undefined = undefined;

  constructor(
    private readonly run: (owner: T) => void,
    private readonly owner: T,
  ) {}

  fire(): void {
    this.run(this.owner);
  }
}

/** What the wheel needs of a task. */
interface WheelEntry {
  slot: number | undefined;
  fire(): void;
}

export class TimerWheel {
  private readonly slots = new Map<number, Set<WheelEntry>>();
  private interval: NodeJS.Timeout | undefined;
  private processedUpTo: number;
  private pending = 0;
  /** Slots count from here, so slot numbers stay small integers (no boxed number per task). */
  private readonly epoch: number;

  constructor(
    private readonly resolutionMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.epoch = now();
    this.processedUpTo = 0;
  }

  private slotOf(ms: number): number {
    return Math.floor((ms - this.epoch) / this.resolutionMs);
  }

  get size(): number {
    return this.pending;
  }

  /** Schedules (or reschedules) `task` to run at `at` (epoch ms), rounded up to a slot. */
  schedule(task: WheelEntry, at: number): void {
    this.cancel(task);
    if (!this.interval) this.processedUpTo = this.slotOf(this.now());
    const slot = Math.max(Math.ceil((at - this.epoch) / this.resolutionMs), this.processedUpTo + 1);
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

  cancel(task: WheelEntry): void {
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
    const current = this.slotOf(this.now());
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
          task.fire();
        } catch (err) {
          this.onError(err);
        }
      }
    }
    if (this.pending === 0) this.stop();
  }
}
