import { Inject, Injectable } from '@nestjs/common';
import { BROKER, type Broker } from '../publishing/broker.js';
import { ACTIVITY_FEED_TOPIC, type ActivityItem, type ActivitySink } from './activity-sink.js';

/** Default sink: pushes each batch as `activity.batch` to the admin subscribers, keeps nothing. */
@Injectable()
export class BroadcastActivitySink implements ActivitySink {
  constructor(@Inject(BROKER) private readonly broker: Broker) {}

  async write(items: readonly ActivityItem[]): Promise<void> {
    await this.broker.publish({
      type: 'topic',
      namespace: 'activity',
      topics: [ACTIVITY_FEED_TOPIC],
      event: 'activity.batch',
      data: { items },
    });
  }
}
