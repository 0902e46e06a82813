/**
 * The wire contract as TypeScript types, for the client: which events each namespace path
 * accepts, what they answer and what the server pushes (docs/protocol.md §3–§5, §10).
 *
 * Derived, with `import type` only, from the server's namespace descriptors (the one
 * declaration of each namespace's events, DTOs, replies and pushes), so a change there changes
 * the client's types with it and nothing is typed twice. Type-only imports are erased by the
 * bundler: no server code reaches the client bundle (the build checks this).
 */
import type { ActivityItem } from '../../src/activity/activity-sink.js';
import type { ChatMessage } from '../../src/chat/chat-history.store.js';
import type { ErrorEnvelope } from '../../src/filters/ws-exception.filter.js';
import type { CLOSE_REASONS } from '../../src/protocol/close-codes.js';
import type { ErrorCode } from '../../src/protocol/error-codes.js';
import type { NAMESPACES, NamespaceName } from '../../src/protocol/namespaces.js';
import type { PushData } from '../../src/publishing/realtime-publisher.js';
import type { RoomMember } from '../../src/subscriptions/room-presence.store.js';
import type { ClientEventSpec, EventSpec, NamespaceDescriptor, PayloadOf } from '../../src/protocol/namespace-descriptor.js';
import type { NamespaceDescriptors, SESSION } from '../../src/protocol/namespace-descriptors.js';

export type { ActivityItem, ChatMessage, ErrorCode, NamespaceName, RoomMember };

/** The error envelope of docs/protocol.md §3 as the server sends it. */
export type ServerErrorFrame = ErrorEnvelope;

/** Every close code of the contract's table (docs/protocol.md §3). */
export type ServerCloseCode = keyof typeof CLOSE_REASONS;

/** A namespace's WebSocket path, e.g. `/ws/tracking`. */
export type NamespacePath = (typeof NAMESPACES)[NamespaceName]['path'];

/** The namespace served at path `P`. */
export type NamespaceOfPath<P extends NamespacePath> = {
  [N in NamespaceName]: (typeof NAMESPACES)[N]['path'] extends P ? N : never;
}[NamespaceName];

/** Position of a recoverable stream (docs/protocol.md §10), as the client sends it in `since`. */
export interface StreamPosition {
  readonly offset: number;
  readonly epoch: string;
}

/** What a subscribe answer carries when it was asked to recover (docs/protocol.md §10). */
export interface RecoveryAnswer {
  readonly offset?: number;
  readonly epoch?: string;
  readonly recovered?: boolean;
  readonly publications?: ReadonlyArray<{ readonly offset: number; readonly data: PushData }>;
}

/** The `connected` push: first frame of every connection (its namespace one of the table's names). */
export type ConnectedData = Omit<PayloadOf<(typeof SESSION)['push']['connected']>, 'namespace'> & { readonly namespace: NamespaceName };

/** One request: what is sent (`data`) and the `data` of the answer. */
interface Req<D, A> {
  readonly data: D;
  readonly answer: A;
}

type SessionClient = (typeof SESSION)['client'];
/** Session events, on every path (docs/protocol.md §4); `auth` on an authenticated connection answers like `auth.refresh`. */
export type SessionRequests = {
  [K in keyof SessionClient as SessionClient[K]['event']]: K extends 'auth'
    ? Req<InstanceType<SessionClient[K]['dto']>, PayloadOf<SessionClient['auth']['reply']> | PayloadOf<SessionClient['refresh']['reply']>>
    : Req<InstanceType<SessionClient[K]['dto']>, PayloadOf<SessionClient[K]['reply']>>;
};

export type SessionPushes = { [E in (typeof SESSION)['push']['expiring'] as E['event']]: PayloadOf<E> };

interface NamespaceProtocol {
  /** Requests with an answer. */
  requests: Record<string, Req<unknown, unknown>>;
  /** Events sent without an answer on success (errors still come back). */
  sends: Record<string, unknown>;
  pushes: Record<string, unknown>;
}

/**
 * The subscribes of the recoverable streams (docs/protocol.md §10: tracking, projects,
 * notifications): the client adds `since` when it resubscribes, and their answers may carry
 * a position and recovered publications.
 */
type RecoverableSubscribe = 'tracking.subscribe' | 'project.subscribe' | 'notifications.subscribe';

type ClientSpecs<D extends NamespaceDescriptor> = D['client'][keyof D['client']];
type WithReply = { readonly reply: EventSpec };
type RequestOf<S extends ClientEventSpec & WithReply> = S['event'] extends RecoverableSubscribe
  ? Req<InstanceType<S['dto']> & { readonly since?: StreamPosition }, PayloadOf<S['reply']> & RecoveryAnswer>
  : Req<InstanceType<S['dto']>, PayloadOf<S['reply']>>;
/** The push announcing a dropped subscription (`*.unsubscribed`, `room.left`, …), when the namespace has topics. */
type DroppedPush<D extends NamespaceDescriptor> = D['topic'] extends { readonly dropped: infer E extends EventSpec } ? { [K in E['event']]: PayloadOf<E> } : {};
/** Publisher-named events (`mololink.*`): any name under the namespace's own prefix. */
type TargetedPush<D extends NamespaceDescriptor> = D['publish'] extends { readonly to: 'targeted' } ? { [K in `${D['name']}.${string}`]: PushData } : {};

/** One namespace's events, derived from its descriptor (src/protocol/namespace-descriptors.ts). */
type ProtocolOf<D extends NamespaceDescriptor> = {
  requests: { [S in ClientSpecs<D> as S extends WithReply ? S['event'] : never]: S extends WithReply ? RequestOf<S> : never };
  sends: { [S in ClientSpecs<D> as S extends WithReply ? never : S['event']]: InstanceType<S['dto']> };
  pushes: { [E in D['push'][keyof D['push']] as E['event']]: PayloadOf<E> } & DroppedPush<D> & TargetedPush<D>;
};

/** Per-namespace events (docs/protocol.md §5); keys are the namespace short names. */
export type Protocol = { [N in keyof NamespaceDescriptors]: ProtocolOf<NamespaceDescriptors[N]> };

// Every namespace of the server's table has an entry, and each entry has the right shape.
type Check<T extends true> = T;
export type ProtocolCoversEveryNamespace = Check<NamespaceName extends keyof Protocol ? (keyof Protocol extends NamespaceName ? true : false) : false>;
export type ProtocolEntriesWellFormed = Check<Protocol[NamespaceName] extends NamespaceProtocol ? true : false>;

type Of<P extends NamespacePath> = Protocol[NamespaceOfPath<P>];

/** Request events on path `P` (session events included) and their data and answers. */
export type RequestMap<P extends NamespacePath> = SessionRequests & Of<P>['requests'];
export type RequestEvent<P extends NamespacePath> = keyof RequestMap<P> & string;
export type RequestData<P extends NamespacePath, E extends RequestEvent<P>> = RequestMap<P>[E] extends Req<infer D, unknown> ? D : never;
export type AnswerData<P extends NamespacePath, E extends RequestEvent<P>> = RequestMap<P>[E] extends Req<unknown, infer A> ? A : never;

/** Events sent without an answer on success. */
export type SendMap<P extends NamespacePath> = Of<P>['sends'];
export type SendEvent<P extends NamespacePath> = keyof SendMap<P> & string;

/** Server pushes on path `P` and their `data`. */
export type PushMap<P extends NamespacePath> = SessionPushes & Of<P>['pushes'];
export type PushEvent<P extends NamespacePath> = keyof PushMap<P> & string;
