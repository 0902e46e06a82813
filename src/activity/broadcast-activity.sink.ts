import { Inject, Injectable } from '@nestjs/common';
import type { RealtimeConfig } from '../config/realtime-options.js';
import { ACTIVITY } from '../protocol/namespace-descriptors.js';
import { RealtimePublisher } from '../publishing/realtime-publisher.js';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import { ACTIVITY_FEED_TOPIC, type ActivityItem, type ActivitySink } from './activity-sink.js';

/** Largest `activity.batch` frame (docs/protocol.md §11). */
export const MAX_ACTIVITY_BATCH_FRAME_BYTES = 262_144;

/** `{"event":"activity.batch","data":{"items":[]}}`: the frame around the items. */
const FRAME_OVERHEAD_BYTES = Buffer.byteLength(JSON.stringify({ event: ACTIVITY.push.batch.event, data: { items: [] } }));

/**
 * Splits items, in order, into runs whose `activity.batch` frame stays within `maxFrameBytes`.
 * An item too large for any frame (impossible under the report DTO's caps) travels alone.
 */
export function splitActivityBatches(items: readonly ActivityItem[], maxFrameBytes: number): ActivityItem[][] {
  const runs: ActivityItem[][] = [];
  let run: ActivityItem[] = [];
  let bytes = FRAME_OVERHEAD_BYTES;
  for (const item of items) {
    const itemBytes = Buffer.byteLength(JSON.stringify(item));
    if (run.length > 0 && bytes + 1 + itemBytes > maxFrameBytes) {
      runs.push(run);
      run = [];
      bytes = FRAME_OVERHEAD_BYTES;
    }
    bytes += (run.length > 0 ? 1 : 0) + itemBytes; // a comma before every item but the first
    run.push(item);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Default sink: pushes each flush as `activity.batch` frames to the admin subscribers, in
 * order, keeps nothing. A frame never exceeds 256 KiB, nor half of WS_MAX_BUFFERED_BYTES, so
 * a large flush cannot close the admins' connections as slow consumers.
 */
@Injectable()
export class BroadcastActivitySink implements ActivitySink {
  private readonly maxFrameBytes: number;

  constructor(
    @Inject(RealtimePublisher) private readonly publisher: RealtimePublisher,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.maxFrameBytes = Math.min(MAX_ACTIVITY_BATCH_FRAME_BYTES, Math.floor(config.maxBufferedBytes / 2));
  }

  async write(items: readonly ActivityItem[]): Promise<void> {
    for (const run of splitActivityBatches(items, this.maxFrameBytes)) {
      await this.publisher.toTopics(ACTIVITY, [ACTIVITY_FEED_TOPIC], ACTIVITY.push.batch, { items: run });
    }
  }
}
