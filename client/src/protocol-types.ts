/**
 * The wire contract as TypeScript types, for the client: which events each namespace path
 * accepts, what they answer and what the server pushes (docs/protocol.md §3–§5, §10).
 *
 * Built only from `import type` of the server's own DTO classes and types, so a change to a
 * DTO changes the client's types with it and nothing is typed twice. Type-only imports are
 * erased by the bundler: no server code reaches the client bundle (the build checks this).
 * This file is the one place that pairs events with payloads; keep it that way.
 */
import type { ActivityItem } from '../../src/activity/activity-sink.js';
import type { ChatMessage } from '../../src/chat/chat-history.store.js';
import type { ErrorEnvelope } from '../../src/filters/ws-exception.filter.js';
import type {
  ActivityReportDto,
  CommodityIdDto,
  CommodityMessageDto,
  NotificationsSubscribeDto,
  ProjectIdDto,
  RoomBroadcastDto,
  RoomIdDto,
} from '../../src/gateways/dto/namespace.dto.js';
import type { EmptyDto, TokenDto } from '../../src/gateways/dto/session.dto.js';
import type { TrackingIdDto } from '../../src/gateways/dto/tracking.dto.js';
import type { RealtimeGateway } from '../../src/gateways/realtime.gateway.js';
import type { CLOSE_REASONS } from '../../src/protocol/close-codes.js';
import type { ErrorCode } from '../../src/protocol/error-codes.js';
import type { NAMESPACES, NamespaceName } from '../../src/protocol/namespaces.js';
import type { PushData } from '../../src/publishing/realtime-publisher.js';
import type { AuthOkData, AuthRefreshedData } from '../../src/session/session-auth.service.js';
import type { RoomMember } from '../../src/subscriptions/room-presence.store.js';

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

/**
 * Position of a recoverable stream (docs/protocol.md §10). Not in the server's DTOs yet: the
 * server side of recovery comes with the recovery work.
 */
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

/** `since` is only sent on resubscribe, by the client itself. */
type Recoverable<T> = T & { readonly since?: StreamPosition };

/** The `connected` push: first frame of every connection. */
export interface ConnectedData {
  readonly connectionId: string;
  readonly namespace: NamespaceName;
  readonly authenticated: boolean;
  readonly userId: string | null;
  readonly expiresAt: string | null;
  readonly heartbeatMs: number;
}

/** One request: what is sent (`data`) and the `data` of the answer. */
interface Req<D, A> {
  readonly data: D;
  readonly answer: A;
}

type PongData = ReturnType<RealtimeGateway['ping']>['data'];

/** Session events, on every path (docs/protocol.md §4). */
export interface SessionRequests {
  auth: Req<TokenDto, AuthOkData | AuthRefreshedData>;
  'auth.refresh': Req<TokenDto, AuthRefreshedData>;
  ping: Req<EmptyDto, PongData>;
}

export interface SessionPushes {
  'auth.expiring': { readonly expiresAt: string };
}

/** `*.unsubscribed` pushed after a refresh whose claims no longer allow a subscription. */
type Revoked<T> = T & { readonly reason?: 'revoked' };

interface NamespaceProtocol {
  /** Requests with an answer. */
  requests: Record<string, Req<unknown, unknown>>;
  /** Events sent without an answer on success (errors still come back). */
  sends: Record<string, unknown>;
  pushes: Record<string, unknown>;
}

/** Per-namespace events (docs/protocol.md §5); keys are the namespace short names. */
export interface Protocol {
  main: {
    requests: {};
    sends: {};
    pushes: { 'system.announcement': PushData };
  };
  tracking: {
    requests: {
      'tracking.subscribe': Req<Recoverable<TrackingIdDto>, TrackingIdDto & RecoveryAnswer>;
      'tracking.unsubscribe': Req<TrackingIdDto, TrackingIdDto>;
    };
    sends: {};
    pushes: {
      'tracking.update': TrackingIdDto & PushData;
      'tracking.unsubscribed': Revoked<TrackingIdDto>;
    };
  };
  notifications: {
    requests: {
      'notifications.subscribe': Req<Recoverable<NotificationsSubscribeDto>, Required<NotificationsSubscribeDto> & RecoveryAnswer>;
      'notifications.unsubscribe': Req<EmptyDto, Required<NotificationsSubscribeDto>>;
    };
    sends: {};
    pushes: {
      notification: PushData;
      'notifications.unsubscribed': Revoked<Required<NotificationsSubscribeDto>>;
    };
  };
  projects: {
    requests: {
      'project.subscribe': Req<Recoverable<ProjectIdDto>, ProjectIdDto & RecoveryAnswer>;
      'project.unsubscribe': Req<ProjectIdDto, ProjectIdDto>;
    };
    sends: {};
    pushes: {
      'project.update': ProjectIdDto & PushData;
      'project.unsubscribed': Revoked<ProjectIdDto>;
    };
  };
  collaboration: {
    requests: {
      'room.join': Req<RoomIdDto, RoomIdDto & { readonly members: readonly RoomMember[] }>;
      'room.leave': Req<RoomIdDto, RoomIdDto>;
    };
    sends: { 'room.broadcast': RoomBroadcastDto };
    pushes: {
      'room.presence': RoomIdDto & { readonly action: 'join' | 'leave'; readonly user: RoomMember };
      'room.message': RoomIdDto & { readonly from: RoomMember; readonly data: RoomBroadcastDto['data']; readonly timestamp: string };
      'room.left': Revoked<RoomIdDto>;
    };
  };
  commodity: {
    requests: {
      'commodity.join': Req<CommodityIdDto, CommodityIdDto & { readonly history: readonly ChatMessage[] }>;
      'commodity.leave': Req<CommodityIdDto, CommodityIdDto>;
      'commodity.message': Req<CommodityMessageDto, Pick<ChatMessage, 'id'>>;
    };
    sends: {};
    pushes: { 'commodity.message': ChatMessage; 'commodity.left': Revoked<CommodityIdDto> };
  };
  activity: {
    requests: { 'activity.subscribe': Req<EmptyDto, {}> };
    sends: { 'activity.report': ActivityReportDto };
    pushes: { 'activity.batch': { readonly items: readonly ActivityItem[] }; 'activity.unsubscribed': Revoked<{}> };
  };
  mololink: {
    requests: {};
    sends: {};
    pushes: { [event: `mololink.${string}`]: PushData };
  };
}

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
