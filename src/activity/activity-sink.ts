/** One reported activity, stamped with the reporter's identity. */
export interface ActivityItem {
  readonly type: string;
  readonly target?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly userId: string;
  readonly timestamp: string;
}

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
