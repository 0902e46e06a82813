import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { MAX_MESSAGE_SIZE_KEY } from '../../src/decorators/max-message-size.decorator.js';
import { IS_PUBLIC_KEY } from '../../src/decorators/public.decorator.js';
import { ActivityGateway } from '../../src/gateways/activity.gateway.js';
import { CollaborationGateway } from '../../src/gateways/collaboration.gateway.js';
import { CommodityGateway } from '../../src/gateways/commodity.gateway.js';
import { TrackingIdDto, TrackingSubscribeDto } from '../../src/gateways/dto/tracking.dto.js';
import { MainGateway } from '../../src/gateways/main.gateway.js';
import { MololinkGateway } from '../../src/gateways/mololink.gateway.js';
import { NotificationsGateway } from '../../src/gateways/notifications.gateway.js';
import { ProjectsGateway } from '../../src/gateways/projects.gateway.js';
import { TrackingGateway } from '../../src/gateways/tracking.gateway.js';
import { DefaultRealtimeAuthorization } from '../../src/auth/realtime-authorization.js';
import type { ClientEventPayloads, PushPayloads, ReplyEvents, ReplyPayloads } from '../../src/protocol/namespace-descriptor.js';
import { type ChatMessageData, NAMESPACE_DESCRIPTORS, SESSION, type COMMODITY, type TRACKING } from '../../src/protocol/namespace-descriptors.js';
import { NAMESPACE_NAMES } from '../../src/protocol/namespaces.js';

/** Handler events of a gateway class as Nest reads them (`@SubscribeMessage` metadata), with their cap and public flag. */
function handlerTable(gateway: abstract new (...args: never[]) => unknown): Map<string, { maxBytes: number; public: boolean }> {
  const table = new Map<string, { maxBytes: number; public: boolean }>();
  for (let proto = gateway.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const method = Object.getOwnPropertyDescriptor(proto, key)?.value as unknown;
      if (typeof method !== 'function' || Reflect.getMetadata('websockets:message_mapping', method) !== true) continue;
      const event = Reflect.getMetadata('message', method) as string;
      if (table.has(event)) continue;
      table.set(event, { maxBytes: Reflect.getMetadata(MAX_MESSAGE_SIZE_KEY, method) as number, public: Reflect.getMetadata(IS_PUBLIC_KEY, method) === true });
    }
  }
  return table;
}

const GATEWAYS = {
  main: MainGateway,
  tracking: TrackingGateway,
  notifications: NotificationsGateway,
  projects: ProjectsGateway,
  collaboration: CollaborationGateway,
  commodity: CommodityGateway,
  activity: ActivityGateway,
  mololink: MololinkGateway,
} as const;

describe('namespace descriptors: the one declaration the gateways are wired from', () => {
  it('lists every contract namespace once, under its own name, on /ws/<name>', () => {
    expect(Object.keys(NAMESPACE_DESCRIPTORS)).toEqual([...NAMESPACE_NAMES]);
    for (const [name, descriptor] of Object.entries(NAMESPACE_DESCRIPTORS)) {
      expect(descriptor.name).toBe(name);
      expect(descriptor.path).toBe(`/ws/${name}`);
    }
  });

  it.each(NAMESPACE_NAMES)('%s: the gateway handles exactly its descriptor client events plus the session events, with their caps and public flags', (name) => {
    const descriptor = NAMESPACE_DESCRIPTORS[name];
    const expected = new Map<string, { maxBytes: number; public: boolean }>();
    for (const spec of [...Object.values(SESSION.client), ...Object.values(descriptor.client)]) {
      expected.set(spec.event, { maxBytes: spec.maxBytes, public: 'public' in spec && spec.public === true });
    }
    expect(handlerTable(GATEWAYS[name])).toEqual(expected);
  });

  it('the default authorisation is each descriptor rule (contract defaults of §5)', () => {
    const auth = new DefaultRealtimeAuthorization();
    const user = { userId: 'u1', username: 'u', roles: [], claims: { projects: ['p1'] }, expiresAt: Date.now() + 60_000 };
    const admin = { ...user, userId: 'a1', roles: ['admin'], claims: {} };
    expect(auth.canSubscribe(undefined, 'tracking', 't1')).toBe(true);
    expect(auth.canSubscribe(user, 'projects', 'p1')).toBe(true);
    expect(auth.canSubscribe(user, 'projects', 'p2')).toBe(false);
    expect(auth.canSubscribe(admin, 'projects', 'p2')).toBe(true);
    expect(auth.canSubscribe(user, 'notifications', 'u1')).toBe(true);
    expect(auth.canSubscribe(user, 'notifications', 'u2')).toBe(false);
    expect(auth.canSubscribe(user, 'activity', 'feed')).toBe(false);
    expect(auth.canSubscribe(admin, 'activity', 'feed')).toBe(true);
    expect(auth.canSubscribe(admin, 'main', 'x')).toBe(false);
    expect(auth.canSubscribe(admin, 'mololink', 'x')).toBe(false);
    expect(auth.canSubscribe(admin, 'no-such-namespace', 'x')).toBe(false);
  });
});

// --- type maps a client SDK derives with `import type` (checked by the compiler in build:test) ---

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typed = <T extends true>(): T => true as T;

describe('type maps for clients', () => {
  it('derive event name → payload, reply event and push payload types from a descriptor', () => {
    typed<Equals<ClientEventPayloads<typeof TRACKING>['tracking.subscribe'], TrackingSubscribeDto>>();
    typed<Equals<ClientEventPayloads<typeof TRACKING>['tracking.unsubscribe'], TrackingIdDto>>();
    typed<Equals<keyof ClientEventPayloads<typeof TRACKING>, 'tracking.subscribe' | 'tracking.unsubscribe'>>();
    typed<Equals<ReplyEvents<typeof COMMODITY>, { 'commodity.join': 'commodity.joined'; 'commodity.leave': 'commodity.left'; 'commodity.message': 'commodity.sent' }>>();
    typed<Equals<ReplyPayloads<typeof COMMODITY>['commodity.sent'], { readonly id: string }>>();
    typed<Equals<PushPayloads<typeof COMMODITY>, { 'commodity.message': ChatMessageData }>>();
    typed<Equals<ReplyPayloads<typeof SESSION>['pong'], { readonly timestamp: string }>>();
    // Reading one at run time is a compile-time check only: the markers are empty objects.
    expect(NAMESPACE_DESCRIPTORS.tracking.push.update.data).toEqual({});
  });
});
