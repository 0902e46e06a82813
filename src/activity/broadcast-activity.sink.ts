import { Inject, Injectable } from '@nestjs/common';
import { ACTIVITY } from '../protocol/namespace-descriptors.js';
import { RealtimePublisher } from '../publishing/realtime-publisher.js';
import { ACTIVITY_FEED_TOPIC, type ActivityItem, type ActivitySink } from './activity-sink.js';

/** Default sink: pushes each batch as `activity.batch` to the admin subscribers, keeps nothing. */
@Injectable()
export class BroadcastActivitySink implements ActivitySink {
  constructor(@Inject(RealtimePublisher) private readonly publisher: RealtimePublisher) {}

  async write(items: readonly ActivityItem[]): Promise<void> {
    await this.publisher.toTopics(ACTIVITY, [ACTIVITY_FEED_TOPIC], ACTIVITY.push.batch, { items });
  }
}
