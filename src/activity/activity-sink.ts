import type { ActivityItemData } from '../protocol/namespace-descriptors.js';

/** One reported activity, stamped with the reporter's identity (its wire form in `activity.batch`). */
export type ActivityItem = ActivityItemData;

/**
 * Where flushed activity goes. Replace it through `ACTIVITY_SINK` (e.g. a database
 * writer). A sink that throws loses that batch; the loss is counted, never retried
 * without bound.
 */
export interface ActivitySink {
  write(items: readonly ActivityItem[]): Promise<void>;
}

export const ACTIVITY_SINK = Symbol('ACTIVITY_SINK');

/** Topic of the admin live feed on /ws/activity. */
export const ACTIVITY_FEED_TOPIC = 'feed';
