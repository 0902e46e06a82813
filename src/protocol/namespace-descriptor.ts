import type { Identity } from '../auth/identity.js';

/**
 * The shape of one namespace, declared once (`defineNamespace`): its path and auth mode,
 * the events clients send (payload DTO, frame cap, reply), the events the server pushes,
 * what a topic is, who may subscribe, what server-side publishing may send, and whether a
 * client can recover missed pushes. Gateways, the default authorisation, the HTTP publish
 * rules, the publisher and the documents are derived from it; a client SDK derives its
 * event and payload types from it with `import type` (see the type maps at the end).
 */

/**
 * A payload type carried at the type level only: `payload<T>()` is an empty marker at run
 * time, its `T` is what the event's `data` holds on the wire.
 */
export interface Payload<T> {
  readonly __payload?: T;
}

const PAYLOAD: Payload<never> = Object.freeze({});

export function payload<T>(): Payload<T> {
  return PAYLOAD as Payload<T>;
}

/** A server-to-client event: its name and the type of its `data`. */
export interface EventSpec<T = unknown> {
  readonly event: string;
  readonly data: Payload<T>;
}

/** A class whose instances are the validated payload of a client event. */
export type DtoClass<T extends object = object> = new () => T;

/** A client-to-server event. */
export interface ClientEventSpec<T extends object = object> {
  readonly event: string;
  /** Validated by the ValidationPipe (whitelist, unknown fields rejected). */
  readonly dto: DtoClass<T>;
  /** Per-event cap on the raw frame in bytes, before validation (finding 10). */
  readonly maxBytes: number;
  /** Anonymous and pending connections may send it too. */
  readonly public?: boolean;
  /** The event answering it on success (with the frame's `id`); none: no reply on success. */
  readonly reply?: EventSpec;
}

/** What a topic of the namespace is. */
export interface TopicSpec {
  /** The payload field naming the topic (`trackingId`); none: the topic is not shown to clients. */
  readonly key?: string;
  /** `integer`: the topic is the decimal form of a number (`commodityId`). */
  readonly type: 'string' | 'integer';
  /** Sent when the server drops a subscription (refresh with fewer rights: `reason: "revoked"`). */
  readonly dropped: EventSpec;
}

/** What server-side publishing (RealtimePublisher, `POST /realtime/publish`) may send to the namespace. */
export type PublishRule =
  /** `topic` names one topic; the topic key is added to `data`. */
  | { readonly to: 'topic'; readonly push: EventSpec }
  /** `userIds` (1 to 1000): each user's own topic (topic = userId). */
  | { readonly to: 'users'; readonly push: EventSpec }
  /** Every connection of the namespace (pending ones excepted). */
  | { readonly to: 'namespace'; readonly push: EventSpec }
  /** `event` matching `eventPattern`, to `userIds` and/or `roles`, or `all` (never an untargeted broadcast, finding 18). */
  | { readonly to: 'targeted'; readonly eventPattern: RegExp; readonly metricsLabel: string };

export interface NamespaceDescriptor {
  readonly name: string;
  readonly path: string;
  /** Connections must authenticate (at the handshake or with `auth` in time). */
  readonly authRequired: boolean;
  readonly client: Readonly<Record<string, ClientEventSpec>>;
  readonly push: Readonly<Record<string, EventSpec>>;
  readonly topic?: TopicSpec;
  /** The default rule for subscribing to (joining) `topic`; `REALTIME_AUTHORIZATION` may replace it. */
  readonly authorize: (identity: Identity | undefined, topic: string) => boolean;
  readonly publish?: PublishRule;
  /**
   * Recoverable streams (docs/protocol.md §10): one per topic, pushes carry `offset`/`epoch`,
   * the subscribe answers carry the position and recover with `since`. Needs `topic` and a
   * `topic` or `users` publish rule.
   */
  readonly recoverable: boolean;
}

/** The gateway options `@RealtimeNamespace` declares, read by the adapter when it creates the namespace's server. */
export interface RealtimeGatewayOptions {
  readonly path: string;
  readonly descriptor: NamespaceDescriptor;
}

/** Keeps the literal types of a declaration (event names, DTO classes, payload types). */
export function defineNamespace<const D extends NamespaceDescriptor>(descriptor: D): D {
  return Object.freeze(descriptor) as D;
}

/** The frame answering a client event: `{event: reply.event, data}`, typed by the declaration. */
export function replyTo<S extends ClientEventSpec & { readonly reply: EventSpec }>(
  spec: S,
  data: PayloadOf<S['reply']>,
): { readonly event: S['reply']['event']; readonly data: PayloadOf<S['reply']> } {
  return { event: spec.reply.event, data };
}

/** The `data` of a push or a reply. */
export type PayloadOf<E extends EventSpec> = E['data'] extends Payload<infer T> ? T : never;

// --- Type maps for clients (use with `import type`) ---------------------------------------

type ClientSpecs<D extends Pick<NamespaceDescriptor, 'client'>> = D['client'][keyof D['client']];

/** Client event name → its payload (the DTO's instance type). */
export type ClientEventPayloads<D extends Pick<NamespaceDescriptor, 'client'>> = {
  [S in ClientSpecs<D> as S['event']]: InstanceType<S['dto']>;
};

/** Client event name → the event name of its reply (events without a reply are left out). */
export type ReplyEvents<D extends Pick<NamespaceDescriptor, 'client'>> = {
  [S in ClientSpecs<D> as S['reply'] extends EventSpec ? S['event'] : never]: S['reply'] extends EventSpec ? S['reply']['event'] : never;
};

/** Reply event name → its payload. */
export type ReplyPayloads<D extends Pick<NamespaceDescriptor, 'client'>> = {
  [S in ClientSpecs<D> as S['reply'] extends EventSpec ? S['reply']['event'] : never]: S['reply'] extends EventSpec ? PayloadOf<S['reply']> : never;
};

/** Server push event name → its payload (the pushes, the dropped-topic event, and reply events are separate). */
export type PushPayloads<D extends Pick<NamespaceDescriptor, 'push'>> = {
  [E in D['push'][keyof D['push']] as E['event']]: PayloadOf<E>;
};
