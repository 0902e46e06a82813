import type { Identity } from '../auth/identity.js';
import {
  ActivityReportDto,
  CommodityIdDto,
  CommodityMessageDto,
  NotificationsSubscribeDto,
  ProjectIdDto,
  ProjectSubscribeDto,
  RoomBroadcastDto,
  RoomIdDto,
} from '../gateways/dto/namespace.dto.js';
import { EmptyDto, TokenDto } from '../gateways/dto/session.dto.js';
import { TrackingIdDto, TrackingSubscribeDto } from '../gateways/dto/tracking.dto.js';
import { FrameCap, SessionEvent } from './events.js';
import { defineNamespace, payload, type NamespaceDescriptor } from './namespace-descriptor.js';

/**
 * Every namespace of docs/protocol.md §1 and §5, declared once each; `SESSION` holds the
 * session events of §4 that every namespace serves. This module is the table clients and
 * documents are checked against: `import type { NAMESPACE_DESCRIPTORS } …` and the type
 * maps of `namespace-descriptor.ts` give a client its event and payload types.
 */

export const ADMIN_ROLE = 'admin';

const isAdmin = (identity: Identity | undefined): boolean => identity?.roles.includes(ADMIN_ROLE) ?? false;

/** Free-form push data chosen by the publisher. */
export type PushData = Readonly<Record<string, unknown>>;

// --- wire payloads ------------------------------------------------------------------------

export interface ConnectedData {
  readonly connectionId: string;
  readonly namespace: string;
  readonly authenticated: boolean;
  readonly userId: string | null;
  readonly expiresAt: string | null;
  readonly heartbeatMs: number;
}
export interface AuthOkData {
  readonly userId: string;
  readonly expiresAt: string;
}
export interface ExpiresAtData {
  readonly expiresAt: string;
}
/** A member of a collaboration room as others see it. */
export interface RoomMemberData {
  readonly userId: string;
  readonly username: string;
}
/** One chat message (docs/protocol.md §5 ChatMessage). */
export interface ChatMessageData {
  readonly id: string;
  readonly commodityId: number;
  readonly userId: string;
  readonly username: string;
  readonly text: string;
  readonly timestamp: string;
}
export interface ActivityItemData {
  readonly type: string;
  readonly target?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly userId: string;
  readonly timestamp: string;
}
/**
 * Every answer to a subscribe of a recoverable stream (docs/protocol.md §10): the stream's
 * position, and with `since` whether everything missed is in `publications` (oldest first).
 */
export interface StreamPositionData {
  readonly offset: number;
  readonly epoch: string;
  readonly recovered?: boolean;
  readonly publications?: ReadonlyArray<{ readonly offset: number; readonly data: PushData }>;
}
/** Dropped subscriptions carry `reason: "revoked"` when the server dropped them. */
export interface Dropped {
  readonly reason?: 'revoked';
}

// --- session events (every namespace) ------------------------------------------------------

export const SESSION = {
  client: {
    /** On an already authenticated connection, `auth` answers `auth.refreshed` like `auth.refresh`. */
    auth: {
      event: SessionEvent.AUTH,
      dto: TokenDto,
      maxBytes: FrameCap.CONTROL,
      public: true,
      reply: { event: SessionEvent.AUTH_OK, data: payload<AuthOkData>() },
    },
    refresh: {
      event: SessionEvent.AUTH_REFRESH,
      dto: TokenDto,
      maxBytes: FrameCap.CONTROL,
      reply: { event: SessionEvent.AUTH_REFRESHED, data: payload<ExpiresAtData>() },
    },
    ping: {
      event: SessionEvent.PING,
      dto: EmptyDto,
      maxBytes: FrameCap.CONTROL,
      public: true,
      reply: { event: SessionEvent.PONG, data: payload<{ readonly timestamp: string }>() },
    },
  },
  push: {
    connected: { event: SessionEvent.CONNECTED, data: payload<ConnectedData>() },
    expiring: { event: SessionEvent.AUTH_EXPIRING, data: payload<ExpiresAtData>() },
  },
} as const;

// --- namespaces -----------------------------------------------------------------------------

const trackingUnsubscribed = { event: 'tracking.unsubscribed', data: payload<{ readonly trackingId: string } & Dropped>() } as const;
const trackingUpdate = { event: 'tracking.update', data: payload<PushData & { readonly trackingId: string }>() } as const;

export const TRACKING = defineNamespace({
  name: 'tracking',
  path: '/ws/tracking',
  authRequired: false,
  client: {
    subscribe: {
      event: 'tracking.subscribe',
      dto: TrackingSubscribeDto,
      maxBytes: FrameCap.CONTROL,
      public: true,
      reply: { event: 'tracking.subscribed', data: payload<{ readonly trackingId: string } & StreamPositionData>() },
    },
    unsubscribe: { event: 'tracking.unsubscribe', dto: TrackingIdDto, maxBytes: FrameCap.CONTROL, public: true, reply: trackingUnsubscribed },
  },
  push: { update: trackingUpdate },
  topic: { key: 'trackingId', type: 'string', dropped: trackingUnsubscribed },
  authorize: () => true,
  publish: { to: 'topic', push: trackingUpdate },
  recoverable: true,
});

const notificationsUnsubscribed = { event: 'notifications.unsubscribed', data: payload<{ readonly userId: string } & Dropped>() } as const;
const notification = { event: 'notification', data: payload<PushData>() } as const;

export const NOTIFICATIONS = defineNamespace({
  name: 'notifications',
  path: '/ws/notifications',
  authRequired: true,
  client: {
    /** `userId` may be given but must be the caller's own. */
    subscribe: {
      event: 'notifications.subscribe',
      dto: NotificationsSubscribeDto,
      maxBytes: FrameCap.CONTROL,
      reply: { event: 'notifications.subscribed', data: payload<{ readonly userId: string } & StreamPositionData>() },
    },
    unsubscribe: { event: 'notifications.unsubscribe', dto: EmptyDto, maxBytes: FrameCap.CONTROL, reply: notificationsUnsubscribed },
  },
  push: { notification },
  topic: { key: 'userId', type: 'string', dropped: notificationsUnsubscribed },
  authorize: (identity, topic) => identity !== undefined && identity.userId === topic,
  publish: { to: 'users', push: notification },
  recoverable: true,
});

const projectUnsubscribed = { event: 'project.unsubscribed', data: payload<{ readonly projectId: string } & Dropped>() } as const;
const projectUpdate = { event: 'project.update', data: payload<PushData & { readonly projectId: string }>() } as const;

export const PROJECTS = defineNamespace({
  name: 'projects',
  path: '/ws/projects',
  authRequired: true,
  client: {
    subscribe: {
      event: 'project.subscribe',
      dto: ProjectSubscribeDto,
      maxBytes: FrameCap.CONTROL,
      reply: { event: 'project.subscribed', data: payload<{ readonly projectId: string } & StreamPositionData>() },
    },
    unsubscribe: { event: 'project.unsubscribe', dto: ProjectIdDto, maxBytes: FrameCap.CONTROL, reply: projectUnsubscribed },
  },
  push: { update: projectUpdate },
  topic: { key: 'projectId', type: 'string', dropped: projectUnsubscribed },
  /** Role admin, or the project listed in the token's `projects` claim. */
  authorize: (identity, topic) => {
    if (!identity) return false;
    if (isAdmin(identity)) return true;
    const projects = identity.claims.projects;
    return Array.isArray(projects) && projects.some((p) => p === topic);
  },
  publish: { to: 'topic', push: projectUpdate },
  recoverable: true,
});

const roomLeft = { event: 'room.left', data: payload<{ readonly roomId: string } & Dropped>() } as const;

export const COLLABORATION = defineNamespace({
  name: 'collaboration',
  path: '/ws/collaboration',
  authRequired: true,
  client: {
    join: {
      event: 'room.join',
      dto: RoomIdDto,
      maxBytes: FrameCap.CONTROL,
      reply: { event: 'room.joined', data: payload<{ readonly roomId: string; readonly members: readonly RoomMemberData[] }>() },
    },
    leave: { event: 'room.leave', dto: RoomIdDto, maxBytes: FrameCap.CONTROL, reply: roomLeft },
    /** No reply on success; the other members get `room.message`. */
    broadcast: { event: 'room.broadcast', dto: RoomBroadcastDto, maxBytes: FrameCap.ROOM_BROADCAST },
  },
  push: {
    message: {
      event: 'room.message',
      data: payload<{ readonly roomId: string; readonly from: RoomMemberData; readonly data: PushData; readonly timestamp: string }>(),
    },
    presence: {
      event: 'room.presence',
      data: payload<{ readonly roomId: string; readonly action: 'join' | 'leave'; readonly user: RoomMemberData }>(),
    },
  },
  topic: { key: 'roomId', type: 'string', dropped: roomLeft },
  authorize: () => true,
  recoverable: false,
});

const commodityLeft = { event: 'commodity.left', data: payload<{ readonly commodityId: number } & Dropped>() } as const;

export const COMMODITY = defineNamespace({
  name: 'commodity',
  path: '/ws/commodity',
  authRequired: true,
  client: {
    join: {
      event: 'commodity.join',
      dto: CommodityIdDto,
      maxBytes: FrameCap.CONTROL,
      reply: { event: 'commodity.joined', data: payload<{ readonly commodityId: number; readonly history: readonly ChatMessageData[] }>() },
    },
    leave: { event: 'commodity.leave', dto: CommodityIdDto, maxBytes: FrameCap.CONTROL, reply: commodityLeft },
    message: {
      event: 'commodity.message',
      dto: CommodityMessageDto,
      maxBytes: FrameCap.COMMODITY_MESSAGE,
      reply: { event: 'commodity.sent', data: payload<{ readonly id: string }>() },
    },
  },
  push: { message: { event: 'commodity.message', data: payload<ChatMessageData>() } },
  topic: { key: 'commodityId', type: 'integer', dropped: commodityLeft },
  authorize: () => true,
  recoverable: false,
});

const activityUnsubscribed = { event: 'activity.unsubscribed', data: payload<Dropped>() } as const;

export const ACTIVITY = defineNamespace({
  name: 'activity',
  path: '/ws/activity',
  authRequired: true,
  client: {
    /** No reply on success. */
    report: { event: 'activity.report', dto: ActivityReportDto, maxBytes: FrameCap.ACTIVITY_REPORT },
    subscribe: {
      event: 'activity.subscribe',
      dto: EmptyDto,
      maxBytes: FrameCap.CONTROL,
      reply: { event: 'activity.subscribed', data: payload<Record<string, never>>() },
    },
  },
  push: {
    batch: { event: 'activity.batch', data: payload<{ readonly items: readonly ActivityItemData[] }>() },
    /** The live feed was dropped (a refreshed token without role admin). */
    unsubscribed: activityUnsubscribed,
  },
  topic: { type: 'string', dropped: activityUnsubscribed },
  authorize: (identity) => isAdmin(identity),
  recoverable: false,
});

const announcement = { event: SessionEvent.SYSTEM_ANNOUNCEMENT, data: payload<PushData>() } as const;

export const MAIN = defineNamespace({
  name: 'main',
  path: '/ws/main',
  authRequired: false,
  client: {},
  push: { announcement },
  authorize: () => false,
  publish: { to: 'namespace', push: announcement },
  recoverable: false,
});

/** `mololink.*` event names publishers may use. */
export const MOLOLINK_EVENT_PATTERN = /^mololink\.[a-z0-9_.-]{1,64}$/;

export const MOLOLINK = defineNamespace({
  name: 'mololink',
  path: '/ws/mololink',
  authRequired: true,
  client: {},
  /** Event names are chosen by the publisher (`MOLOLINK_EVENT_PATTERN`), data is free-form. */
  push: {},
  authorize: () => false,
  publish: { to: 'targeted', eventPattern: MOLOLINK_EVENT_PATTERN, metricsLabel: 'mololink.*' },
  recoverable: false,
});

/** The contract's namespaces, in the order of docs/protocol.md §1. */
export const NAMESPACE_DESCRIPTORS = {
  main: MAIN,
  tracking: TRACKING,
  notifications: NOTIFICATIONS,
  projects: PROJECTS,
  collaboration: COLLABORATION,
  commodity: COMMODITY,
  activity: ACTIVITY,
  mololink: MOLOLINK,
} as const satisfies Readonly<Record<string, NamespaceDescriptor>>;

export type NamespaceDescriptors = typeof NAMESPACE_DESCRIPTORS;
