import type { NamespaceName, Protocol, StreamPosition } from './protocol-types.js';

type RequestsOf<N extends NamespaceName> = keyof Protocol[N]['requests'] & string;
type PushesOf<N extends NamespaceName> = keyof Protocol[N]['pushes'] & string;
type AnyRequest = { [N in NamespaceName]: RequestsOf<N> }[NamespaceName];
type AnyPush = { [N in NamespaceName]: PushesOf<N> }[NamespaceName];

/** How one subscribe-like request is undone, keyed, dropped by the server and recovered. */
export interface SubscriptionKind {
  /** The request that undoes it; none for `activity.subscribe` (the server has no unsubscribe). */
  readonly unsubscribe?: AnyRequest;
  /** The field of `data` naming the topic; none when the topic is the caller (notifications). */
  readonly key?: string;
  /** Pushed when the server drops it after a refresh (`reason: "revoked"`, docs/protocol.md §4). */
  readonly dropped: AnyPush;
  /** For recoverable streams (docs/protocol.md §10): the push that carries `offset`/`epoch`. */
  readonly stream?: AnyPush;
}

/**
 * The subscribe-like requests the client remembers and restores after a reconnect. Event
 * names are checked against the protocol types, so a renamed event fails to compile here.
 */
export const SUBSCRIPTION_KINDS = {
  'tracking.subscribe': { unsubscribe: 'tracking.unsubscribe', key: 'trackingId', dropped: 'tracking.unsubscribed', stream: 'tracking.update' },
  'project.subscribe': { unsubscribe: 'project.unsubscribe', key: 'projectId', dropped: 'project.unsubscribed', stream: 'project.update' },
  'notifications.subscribe': { unsubscribe: 'notifications.unsubscribe', dropped: 'notifications.unsubscribed', stream: 'notification' },
  'room.join': { unsubscribe: 'room.leave', key: 'roomId', dropped: 'room.left' },
  'commodity.join': { unsubscribe: 'commodity.leave', key: 'commodityId', dropped: 'commodity.left' },
  'activity.subscribe': { dropped: 'activity.unsubscribed' },
} as const satisfies Partial<Record<AnyRequest, SubscriptionKind>>;

export type SubscribeEventName = keyof typeof SUBSCRIPTION_KINDS;

export function subscriptionKind(event: string): SubscriptionKind | undefined {
  return Object.prototype.hasOwnProperty.call(SUBSCRIPTION_KINDS, event) ? (SUBSCRIPTION_KINDS as Record<string, SubscriptionKind>)[event] : undefined;
}

/** `tracking.subscribe:SHP-1`: one remembered subscription and, for streams, its position. */
export function subscriptionKey(event: string, kind: SubscriptionKind, data: Readonly<Record<string, unknown>>): string {
  return kind.key === undefined ? event : `${event}:${String(data[kind.key])}`;
}

/** The subscribe event whose stream a push belongs to, e.g. `tracking.update` → `tracking.subscribe`. */
const STREAM_OF_PUSH: ReadonlyMap<string, string> = new Map(
  Object.entries(SUBSCRIPTION_KINDS as Record<string, SubscriptionKind>)
    .filter(([, kind]) => kind.stream !== undefined)
    .map(([event, kind]) => [kind.stream!, event]),
);

/** The subscription key a push's stream belongs to, or undefined for pushes without a stream. */
export function streamKeyOfPush(event: string, data: Readonly<Record<string, unknown>>): string | undefined {
  const subscribe = STREAM_OF_PUSH.get(event);
  return subscribe === undefined ? undefined : subscriptionKey(subscribe, subscriptionKind(subscribe)!, data);
}

export function isStreamPosition(value: { offset?: unknown; epoch?: unknown }): value is StreamPosition {
  return (
    typeof value.offset === 'number' && Number.isInteger(value.offset) && value.offset >= 0 &&
    typeof value.epoch === 'string' && value.epoch.length >= 1 && value.epoch.length <= 64
  );
}

/**
 * Last known position per recoverable stream (docs/protocol.md §10). One entry per remembered
 * subscription at most: the client deletes it when the subscription is dropped.
 */
export class StreamPositions {
  private readonly positions = new Map<string, StreamPosition>();

  get(key: string): StreamPosition | undefined {
    return this.positions.get(key);
  }

  set(key: string, position: StreamPosition): void {
    this.positions.set(key, { offset: position.offset, epoch: position.epoch });
  }

  delete(key: string): void {
    this.positions.delete(key);
  }

  clear(): void {
    this.positions.clear();
  }

  get size(): number {
    return this.positions.size;
  }

  /**
   * Records a live push's position. False when it repeats one already seen in the same epoch
   * (a duplicate to drop); a new epoch restarts the stream.
   */
  advance(key: string, position: StreamPosition): boolean {
    const known = this.positions.get(key);
    if (known !== undefined && known.epoch === position.epoch && position.offset <= known.offset) return false;
    this.set(key, position);
    return true;
  }
}
