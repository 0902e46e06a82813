/**
 * The client's types come from the server's DTOs (client/src/protocol-types.ts): these lines are
 * checked by `npm run build:test` (tsc), where every `@ts-expect-error` must meet an error, so a
 * client type that drifted from the server's DTOs or event table fails the build.
 */
import type { RealtimeClient } from '../../client/src/index.js';
import type { AnswerData, NamespaceOfPath, PushMap, RequestData, RequestEvent } from '../../client/src/protocol-types.js';
import type { CommodityMessageDto, RoomIdDto } from '../../src/gateways/dto/namespace.dto.js';
import type { TrackingIdDto } from '../../src/gateways/dto/tracking.dto.js';
import type { ChatMessage } from '../../src/chat/chat-history.store.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(value: T): T => value;

/** Calls that must compile, and calls that must not; never run. */
export function typedCalls(tracking: RealtimeClient<'/ws/tracking'>, rooms: RealtimeClient<'/ws/collaboration'>, chat: RealtimeClient<'/ws/commodity'>): void {
  void tracking.request('tracking.subscribe', { trackingId: 'SHP-1' });
  // @ts-expect-error trackingId is a string in TrackingIdDto
  void tracking.request('tracking.subscribe', { trackingId: 1 });
  // @ts-expect-error room events do not exist on /ws/tracking
  void tracking.request('room.join', { roomId: 'r' });
  // @ts-expect-error the DTO forbids unknown fields, and so does the type
  void tracking.request('tracking.subscribe', { trackingId: 'SHP-1', userId: 'u' });
  void tracking.request('ping');
  tracking.on('tracking.update', (update) => void update.trackingId.toUpperCase());
  // @ts-expect-error no such push on /ws/tracking
  tracking.on('room.message', () => undefined);
  void rooms.send('room.broadcast', { roomId: 'r', data: { text: 'hi' } });
  // @ts-expect-error room.broadcast answers nothing: it is sent, not requested
  void rooms.request('room.broadcast', { roomId: 'r', data: {} });
  rooms.on('room.presence', (p) => void (p.action === 'join' || p.action === 'leave'));
  void chat.request('commodity.message', { commodityId: 1, text: 'hi' }).then((sent) => sent.id.length);
  // @ts-expect-error commodityId is a number
  void chat.request('commodity.message', { commodityId: '1', text: 'hi' });
}

test('event payload types are the server DTO types', () => {
  expect(assertType<Equal<NamespaceOfPath<'/ws/tracking'>, 'tracking'>>(true)).toBe(true);
  expect(assertType<Equal<RequestData<'/ws/collaboration', 'room.join'>, RoomIdDto>>(true)).toBe(true);
  expect(assertType<Equal<RequestData<'/ws/commodity', 'commodity.message'>, CommodityMessageDto>>(true)).toBe(true);
  expect(assertType<Equal<PushMap<'/ws/commodity'>['commodity.message'], ChatMessage>>(true)).toBe(true);
  expect(assertType<AnswerData<'/ws/tracking', 'tracking.unsubscribe'> extends TrackingIdDto ? true : false>(true)).toBe(true);
  expect(assertType<Equal<Exclude<RequestEvent<'/ws/main'>, 'auth' | 'auth.refresh' | 'ping'>, never>>(true)).toBe(true);
});
