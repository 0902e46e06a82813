import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { RealtimeMetrics } from '../observability/realtime-metrics.js';
import { ACTIVITY_SINK, type ActivityItem, type ActivitySink } from './activity-sink.js';

/** A user's share of one flush: ACTIVITY_BUFFER_MAX / 10 (at least one item). */
const USER_SHARE_DIVISOR = 10;

export interface ActivityBufferStats {
  readonly buffered: number;
  readonly flushed: number;
  readonly dropped: number;
}

/**
 * Bounded activity buffer (finding 11): flushes to the sink at ACTIVITY_BUFFER_MAX items
 * or every ACTIVITY_FLUSH_INTERVAL_MS, whichever first, and on shutdown. It never holds
 * more than its cap: while the sink is busy and the buffer is full, new items are dropped
 * and counted, as are the items of a batch the sink failed.
 *
 * One user's reports take at most a tenth of the cap per flush (docs/protocol.md §11), so
 * one account cannot crowd everyone else out of the feed; the rest are dropped and counted.
 */
@Injectable()
export class ActivityBuffer implements OnApplicationShutdown {
  private items: ActivityItem[] = [];
  /** Items of each user in `items`; at most `items.length` entries, cleared with it. */
  private perUser = new Map<string, number>();
  private readonly userShare: number;
  private inFlight: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private flushed = 0;
  private dropped = 0;

  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    @Inject(ACTIVITY_SINK) private readonly sink: ActivitySink,
    @Inject(RealtimeLogger) private readonly logger: RealtimeLogger,
    @Inject(RealtimeMetrics) private readonly metrics: RealtimeMetrics,
  ) {
    this.userShare = Math.max(1, Math.floor(config.activityBufferMax / USER_SHARE_DIVISOR));
    this.timer = setInterval(() => void this.flush(), config.activityFlushIntervalMs);
    this.timer.unref();
  }

  add(item: ActivityItem): void {
    const taken = this.perUser.get(item.userId) ?? 0;
    if (this.items.length >= this.config.activityBufferMax || taken >= this.userShare) {
      this.dropped += 1;
      this.metrics.activityDropped.inc();
      return;
    }
    this.perUser.set(item.userId, taken + 1);
    this.items.push(item);
    if (this.items.length >= this.config.activityBufferMax && !this.inFlight) void this.flush();
  }

  /** Writes what is buffered; waits for a write already under way first. */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (this.items.length === 0) return;
    const batch = this.items;
    this.items = [];
    this.perUser.clear();
    this.inFlight = this.write(batch);
    try {
      await this.inFlight;
    } finally {
      this.inFlight = undefined;
    }
  }

  stats(): ActivityBufferStats {
    return { buffered: this.items.length, flushed: this.flushed, dropped: this.dropped };
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(batch: ActivityItem[]): Promise<void> {
    try {
      await this.sink.write(batch);
      this.flushed += batch.length;
    } catch (err) {
      this.dropped += batch.length;
      this.metrics.activityDropped.inc(batch.length);
      this.logger.warn('activity sink failed; batch dropped', { items: batch.length, ...describeError(err) });
    }
  }
}
