import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { describeError, RealtimeLogger } from '../logging/realtime-logger.js';
import { RealtimeMetrics } from '../observability/realtime-metrics.js';
import { ACTIVITY_SINK, type ActivityItem, type ActivitySink } from './activity-sink.js';

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
 */
@Injectable()
export class ActivityBuffer implements OnApplicationShutdown {
  private items: ActivityItem[] = [];
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
    this.timer = setInterval(() => void this.flush(), config.activityFlushIntervalMs);
    this.timer.unref();
  }

  add(item: ActivityItem): void {
    if (this.items.length >= this.config.activityBufferMax) {
      this.dropped += 1;
      this.metrics.activityDropped.inc();
      return;
    }
    this.items.push(item);
    if (this.items.length >= this.config.activityBufferMax && !this.inFlight) void this.flush();
  }

  /** Writes what is buffered; waits for a write already under way first. */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (this.items.length === 0) return;
    const batch = this.items;
    this.items = [];
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
