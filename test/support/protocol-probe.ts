/**
 * Reads the protocol out of the code as it is today, for test/unit/asyncapi.spec.ts: which
 * events each gateway handles (Nest's @SubscribeMessage metadata, the DTO of each handler's
 * body) and which events the server sends on each path. Server frames have no table of their
 * own yet, so they are observed: every handler is called, every publisher method, the
 * collaboration/chat/activity fan-out and the revoked-subscription drops run against fakes
 * that record what they are asked to send. Once one namespace descriptor table lists all of
 * this, the spec's `codeEventTables` can read that instead and this file can go.
 *
 * Runs in a plain node process on the compiled test build (build/test/support/protocol-probe.js,
 * from `npm run build:test`). Results are plain JSON. The namespace descriptors
 * (src/protocol/namespace-descriptors.ts) now declare the events too; the data samples the
 * spec checks still come from running the code, so both stay.
 */
import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GATEWAY_METADATA, GATEWAY_OPTIONS, MESSAGE_MAPPING_METADATA, MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import { getMetadataStorage } from 'class-validator';
import { BroadcastActivitySink } from '../../src/activity/broadcast-activity.sink.js';
import { MAX_MESSAGE_SIZE_KEY } from '../../src/decorators/max-message-size.decorator.js';
import { DisconnectDto, PublishDto, RevokeDto } from '../../src/http/dto/publish.dto.js';
import { isObservable, type Observable } from 'rxjs';
import type { BrokerMessage, StreamAppend, TopicMessage } from '../../src/publishing/broker.js';
import { RecoverableStreams } from '../../src/recovery/recoverable-streams.service.js';
import { InMemoryRecoveryHistory } from '../../src/recovery/recovery-history.js';
import { RealtimePublisher } from '../../src/publishing/realtime-publisher.js';
import { SessionEvent } from '../../src/protocol/events.js';
import { NAMESPACES, type NamespaceName } from '../../src/protocol/namespaces.js';
import { MOLOLINK, MOLOLINK_EVENT_PATTERN, TRACKING } from '../../src/protocol/namespace-descriptors.js';
import { SessionAuthService } from '../../src/session/session-auth.service.js';
import { TopicSubscriptions } from '../../src/subscriptions/topic-subscriptions.service.js';
import type { Connection } from '../../src/connection/connection.js';

type Class = abstract new (...args: never[]) => object;

/** A DTO as class-validator sees it: each field, whether it is required, its constraints (RegExps as their source). */
export interface DtoShape {
  readonly name: string;
  readonly fields: Record<string, { required: boolean; rules: Record<string, unknown[]> }>;
}

/** A client event: the DTO of its `data` and its own frame cap in bytes (PAYLOAD_TOO_LARGE above it). */
export interface ClientEvent {
  readonly dto: DtoShape | null;
  readonly maxFrameBytes: number | null;
}

/** Per WebSocket path: client events, and server events with the `data` seen. */
export interface PathEvents {
  readonly client: Record<string, ClientEvent>;
  readonly server: Record<string, Record<string, unknown>[]>;
}

export interface ProtocolTables {
  readonly paths: Record<string, PathEvents>;
  /** Bodies of the HTTP API (docs/protocol.md §8). */
  readonly http: Record<'publish' | 'disconnect' | 'revoke', DtoShape>;
}

export function describeDto(dto: Class): DtoShape {
  const fields: DtoShape['fields'] = {};
  for (const m of getMetadataStorage().getTargetValidationMetadatas(dto as never, '', true, false)) {
    const field = (fields[m.propertyName] ??= { required: true, rules: {} });
    if (m.type === 'conditionalValidation') field.required = false;
    const name = m.name ?? m.type;
    if (name) field.rules[name] = ((m.constraints ?? []) as unknown[]).map((c) => (c instanceof RegExp ? c.source : c));
  }
  return { name: dto.name, fields };
}

export interface GatewayHandler {
  readonly gateway: new (...args: unknown[]) => object;
  readonly path: string;
  readonly event: string;
  readonly method: string;
  readonly dto: Class | undefined;
  readonly maxFrameBytes: number | undefined;
}

const GATEWAY_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'gateways');

/** Every gateway class under src/gateways (exported, carrying Nest's gateway metadata). */
export async function gatewayClasses(): Promise<(new (...args: unknown[]) => object)[]> {
  const found: (new (...args: unknown[]) => object)[] = [];
  for (const file of readdirSync(GATEWAY_DIR).filter((f) => f.endsWith('.gateway.js')).sort()) {
    const module = (await import(pathToFileURL(join(GATEWAY_DIR, file)).href)) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      if (typeof value === 'function' && Reflect.getMetadata(GATEWAY_METADATA, value) === true) found.push(value as new (...args: unknown[]) => object);
    }
  }
  return found;
}

/** The @SubscribeMessage handlers of a gateway, inherited ones included, with their body DTO. */
export function handlersOf(gateway: new (...args: unknown[]) => object): GatewayHandler[] {
  const path = (Reflect.getMetadata(GATEWAY_OPTIONS, gateway) as { path?: string } | undefined)?.path ?? '';
  const handlers: GatewayHandler[] = [];
  const seen = new Set<string>();
  for (let proto = gateway.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const method of Object.getOwnPropertyNames(proto)) {
      const fn = (proto as Record<string, unknown>)[method];
      if (seen.has(method) || typeof fn !== 'function' || Reflect.getMetadata(MESSAGE_MAPPING_METADATA, fn) !== true) continue;
      seen.add(method);
      const params = (Reflect.getMetadata('design:paramtypes', proto, method) ?? []) as Class[];
      // The body DTO: the last class parameter that is not a plain value (e.g. a frame size).
      const dto = [...params].reverse().find((p) => typeof p === 'function' && ![Object, Number, String, Boolean].includes(p as never));
      const maxFrameBytes = Reflect.getMetadata(MAX_MESSAGE_SIZE_KEY, fn) as number | undefined;
      handlers.push({ gateway, path, event: Reflect.getMetadata(MESSAGE_METADATA, fn) as string, method, dto, maxFrameBytes });
    }
  }
  return handlers;
}

interface Recorded {
  readonly path: string;
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Drives the code against recording fakes and returns, per path, the events it handles and sends. */
export async function probeProtocol(): Promise<ProtocolTables> {
  const recorded: Recorded[] = [];
  const pathOf = (ns: NamespaceName): string => NAMESPACES[ns].path;
  let allow = true;
  const identity = { userId: 'u-1', username: 'probe', roles: ['admin'], claims: {}, expiresAt: Date.now() + 3_600_000 };
  const member = { userId: 'u-1', username: 'probe' };
  // One fake standing in for every dependency: config values, broker, registry, authorization,
  // stores, verifier, limiter, lifecycle, logger, metrics. Only the broker records; the
  // registry runs the namespaces' leave hooks as the real one does.
  const leaveHooks = new Map<string, (connection: unknown, topic: string, reason: string) => void>();
  const world: Record<string, unknown> = {
    revocationTtlMs: 1000, chatHistoryTtlMs: 60_000, chatHistorySize: 100, maxRoomMembers: 500, maxSubscriptions: 100,
    maxRoomConnectionsPerUser: 4, roomBroadcastBytesPerSec: 65536, chatRatePerSec: 2, chatRateBurst: 10, subscriberCount: () => 1,
    publish: async (message: BrokerMessage) => {
      if (message.type !== 'close') recorded.push({ path: pathOf(message.namespace), event: message.event, data: { ...message.data } });
    },
    publishToStream: async (message: TopicMessage, append: StreamAppend) => {
      const position = await append(undefined);
      recorded.push({ path: pathOf(message.namespace), event: message.event, data: { ...message.data } });
      return position;
    },
    whenSubscribed: async () => undefined,
    subscribe: () => 'subscribed', isSubscribed: () => true, topicsOf: () => ['1'], removeConnection: () => ['1'],
    onLeave: (ns: string, hook: (connection: unknown, topic: string, reason: string) => void) => leaveHooks.set(ns, hook),
    unsubscribe: (connection: { namespace: { name: string } }, topic: string, reason = 'left') => {
      leaveHooks.get(connection.namespace.name)?.(connection, topic, reason);
      return true;
    },
    canSubscribe: () => allow,
    join: async () => ({ joined: true, firstOfUser: true, members: [member] }), leave: async () => true, sweepDeparted: async () => [],
    append: async () => undefined, recent: async () => [], sweep: async () => undefined,
    verify: async () => identity, acquireUser: async () => 'lease', releaseUser: () => undefined,
    promote: () => undefined, refresh: () => undefined, record: () => undefined, warn: () => undefined, add: () => undefined, authFailure: () => undefined,
    revokeToken: async () => undefined, revokeUser: async () => undefined, take: async () => 0, localUsers: () => 0,
  };
  // A Connection as handlers and services see it.
  const socketOn = (ns: NamespaceName, authenticated: boolean) => ({
    id: 'c-1', userId: authenticated ? identity.userId : undefined, identity: authenticated ? identity : undefined,
    authenticated, closed: false, namespace: NAMESPACES[ns],
    hasTopic: () => true, topics: () => ['1'], takeBudget: () => 0,
    send: (text: string) => {
      const frame = JSON.parse(text) as { event: string; data: Record<string, unknown> };
      recorded.push({ path: pathOf(ns), event: frame.event, data: frame.data });
      return true;
    },
  });
  // A body with a value for every field a handler reads (validation is not part of the probe).
  // `since` makes the recoverable subscribes answer with every field of docs/protocol.md §10.
  const body = { token: 't', trackingId: 'T-1', projectId: 'P-1', roomId: 'R-1', commodityId: 1, text: 'probe', data: {}, type: 'probe', since: { offset: 0, epoch: 'probe' } };
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  const tables = new Map<string, { client: Map<string, GatewayHandler>; server: Map<string, Record<string, unknown>[]> }>();
  const sessionAuth = new SessionAuthService(...([world, world, world, world, []] as unknown as ConstructorParameters<typeof SessionAuthService>));
  const topics = new TopicSubscriptions(...([world, world] as unknown as ConstructorParameters<typeof TopicSubscriptions>));
  const history = new InMemoryRecoveryHistory({ size: 100, ttlMs: 60_000, maxStreams: 100, maxBytes: 1024 * 1024 });
  const streams = new RecoverableStreams(...([history, world, topics, world] as unknown as ConstructorParameters<typeof RecoverableStreams>));
  const publisher = new RealtimePublisher(...([world, world, world, streams] as unknown as ConstructorParameters<typeof RealtimePublisher>));
  const shared = new Map<unknown, unknown>([
    [SessionAuthService, sessionAuth],
    [TopicSubscriptions, topics],
    [RealtimePublisher, publisher],
    [RecoverableStreams, streams],
  ]);
  const timers: { onApplicationShutdown?: () => void }[] = [];
  // A gateway's dependencies: the shared services above, namespace services built from their
  // own constructor types, fakes for everything else.
  const make = (type: unknown): unknown => {
    if (shared.has(type)) return shared.get(type);
    const params = typeof type === 'function' ? ((Reflect.getMetadata('design:paramtypes', type) ?? []) as unknown[]) : [];
    if (typeof type !== 'function' || params.length === 0 || !/Rooms|Chat/.test(type.name)) return world;
    const service = new (type as new (...args: unknown[]) => { onApplicationShutdown?: () => void })(...params.map(make));
    shared.set(type, service);
    timers.push(service);
    return service;
  };
  for (const gateway of await gatewayClasses()) {
    const handlers = handlersOf(gateway);
    const path = handlers[0]?.path ?? (Reflect.getMetadata(GATEWAY_OPTIONS, gateway) as { path: string }).path;
    const ns = (Object.keys(NAMESPACES) as NamespaceName[]).find((name) => NAMESPACES[name].path === path)!;
    tables.set(path, { client: new Map(handlers.map((h) => [h.event, h])), server: new Map() });
    const deps = ((Reflect.getMetadata('design:paramtypes', gateway) ?? []) as Class[]).map(make);
    const instance = new gateway(...deps) as Record<string, (...args: unknown[]) => unknown>;
    for (const handler of handlers) {
      // `auth` twice: on a pending connection (auth.ok) and on an authenticated one (auth.refreshed).
      for (const authenticated of handler.event === SessionEvent.AUTH ? [false, true] : [true]) {
        type Reply = { event: string; data: Record<string, unknown> } | undefined;
        const result = (await instance[handler.method]!(socketOn(ns, authenticated), body)) as Reply | Observable<Reply>;
        // Recoverable subscribes answer with an Observable (the answer, then the held-back pushes).
        for (const reply of isObservable(result) ? await lastValuesOf(result) : [result]) if (reply) recorded.push({ path, event: reply.event, data: reply.data });
      }
    }
  }
  // Subscriptions a refreshed token no longer allows are dropped with their `*.unsubscribed` / `*.left`.
  allow = false;
  for (const ns of Object.keys(NAMESPACES) as NamespaceName[]) topics.onIdentityRefreshed(socketOn(ns, true) as unknown as Connection, identity as never);
  await settle();
  for (const service of timers) service.onApplicationShutdown?.();

  // Server-side publishing: every method of RealtimePublisher must be probed here.
  const calls: Record<string, unknown[]> = {
    publish: ['tracking', { topic: 'T-1', data: {} }], toTopics: [TRACKING, ['T-1'], TRACKING.push.update, { trackingId: 'T-1' }],
    trackingUpdate: ['T-1', {}], projectUpdate: ['P-1', {}], notify: [['u-1'], {}],
    mololink: [{ userIds: ['u-1'] }, 'mololink.probe', {}], targeted: [MOLOLINK, MOLOLINK_EVENT_PATTERN, { userIds: ['u-1'] }, 'mololink.probe', {}],
    announce: [{}], disconnectUser: ['u-1'], revoke: [{ userId: 'u-1' }],
    publishBatch: [[{ namespace: 'tracking', topic: 'T-1', data: {} }, { namespace: 'main', data: {} }]], check: ['tracking', { topic: 'T-1' }],
    deliver: [TRACKING, TRACKING.publish, { topic: 'T-1', data: {} }],
  };
  const namespaceBound = new Set<string>();
  for (const method of Object.getOwnPropertyNames(RealtimePublisher.prototype).filter((m) => m !== 'constructor')) {
    const args = calls[method];
    if (!args) throw new Error(`protocol-probe: RealtimePublisher.${method} is not probed; add its call to \`calls\``);
    const before = recorded.length;
    await (publisher as unknown as Record<string, (...a: unknown[]) => Promise<void>>)[method]!(...args);
    for (const r of recorded.slice(before)) namespaceBound.add(r.event);
  }
  await new BroadcastActivitySink(publisher, { maxBufferedBytes: 1024 * 1024 } as never).write([{ type: 'probe', userId: 'u-1', timestamp: new Date(0).toISOString() }]);

  for (const { path, event, data } of recorded) {
    const server = tables.get(path)?.server;
    if (!server) throw new Error(`protocol-probe: ${event} sent on ${path}, which no gateway serves`);
    server.set(event, [...(server.get(event) ?? []), data]);
  }
  // Session pushes that no handler returns (connected, auth.expiring, error): every SessionEvent
  // the gateways do not handle, on every path, unless a publisher binds it to one namespace.
  const handled = new Set([...tables.values()].flatMap((t) => [...t.client.keys()]));
  for (const event of Object.values(SessionEvent)) {
    if (handled.has(event) || namespaceBound.has(event)) continue;
    for (const table of tables.values()) if (!table.server.has(event)) table.server.set(event, []);
  }
  const paths: Record<string, PathEvents> = {};
  for (const [path, { client, server }] of tables) {
    paths[path] = {
      client: Object.fromEntries(
        [...client].map(([event, h]) => [event, { dto: h.dto ? describeDto(h.dto) : null, maxFrameBytes: h.maxFrameBytes ?? null }]),
      ),
      server: Object.fromEntries(server),
    };
  }
  return { paths, http: { publish: describeDto(PublishDto), disconnect: describeDto(DisconnectDto), revoke: describeDto(RevokeDto) } };
}

/** Every value an Observable emits, once it completes. */
function lastValuesOf<T>(observable: Observable<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const values: T[] = [];
    observable.subscribe({ next: (value) => values.push(value), error: reject, complete: () => resolve(values) });
  });
}
