/**
 * /ws/collaboration end to end (docs/protocol.md §5, §7; issue 3): rooms, members, presence per
 * user, room.broadcast relay, isolation, size caps (finding 10), member cap, empty rooms
 * deleted (finding 20).
 */
import { Client, eventually, type ServerHandle, sleep, startServer } from '../support/harness.js';
import { ClientPool, expectError, expectIsoTimestamp, framesAfter, reply, seen } from '../support/ns-helpers.js';

let server: ServerHandle;
const pool = new ClientPool(() => server);

beforeAll(async () => {
  server = await startServer();
});
afterEach(async () => {
  await pool.closeAll();
});
afterAll(async () => {
  await server.stop();
});

const user = (sub: string, name?: string) => ({ sub, ...(name !== undefined ? { name } : {}) });
const presence = (c: Client, roomId?: string) =>
  c.all('room.presence').filter((f) => roomId === undefined || f.data?.roomId === roomId).map((f) => ({ action: f.data?.action, userId: (f.data?.user as { userId: string }).userId }));
const messages = (c: Client) => c.all('room.message');
const sortMembers = (m: unknown) => [...(m as Array<{ userId: string }>)].sort((a, b) => a.userId.localeCompare(b.userId));

describe('join, members and presence', () => {
  test('room.join answers room.joined {roomId, members:[{userId, username}]} from the token identity', async () => {
    const a = await pool.open('/ws/collaboration', user('a', 'Alice'));
    const joined = await reply(a, 'room.join', { roomId: 'r1' });
    expect(joined.event).toBe('room.joined');
    expect(joined.data).toEqual({ roomId: 'r1', members: [{ userId: 'a', username: 'Alice' }] });

    // username falls back to preferred_username, then sub (§5).
    const b = await pool.open('/ws/collaboration', { sub: 'b', preferred_username: 'bobby' });
    const c = await pool.open('/ws/collaboration', { sub: 'c' });
    await reply(b, 'room.join', { roomId: 'r1' });
    const third = await reply(c, 'room.join', { roomId: 'r1' });
    expect(sortMembers(third.data?.members)).toEqual([
      { userId: 'a', username: 'Alice' },
      { userId: 'b', username: 'bobby' },
      { userId: 'c', username: 'c' },
    ]);
  });

  test('presence join goes to the others only, never to the joiner', async () => {
    const a = await pool.open('/ws/collaboration', user('a', 'Alice'));
    const b = await pool.open('/ws/collaboration', user('b', 'Bob'));
    const c = await pool.open('/ws/collaboration', user('c', 'Cy'));
    await reply(a, 'room.join', { roomId: 'r1' });
    await reply(b, 'room.join', { roomId: 'r1' });
    const bJoin = await seen(a, (f) => f.event === 'room.presence' && f.data?.action === 'join');
    expect(bJoin.data).toEqual({ roomId: 'r1', action: 'join', user: { userId: 'b', username: 'Bob' } });
    expect(bJoin.id).toBeUndefined();
    await reply(c, 'room.join', { roomId: 'r1' });
    await seen(b, (f) => f.event === 'room.presence' && (f.data?.user as { userId: string }).userId === 'c');
    await seen(a, (f) => f.event === 'room.presence' && (f.data?.user as { userId: string }).userId === 'c');
    // By now any presence frame about b's or c's own join would have arrived.
    expect(presence(a)).toEqual([{ action: 'join', userId: 'b' }, { action: 'join', userId: 'c' }]);
    expect(presence(b)).toEqual([{ action: 'join', userId: 'c' }]);
    expect(await framesAfter(c, (f) => f.event === 'room.presence', 100)).toEqual([]);
  });

  test('joining a room twice is idempotent: no second presence join, one member entry', async () => {
    const a = await pool.open('/ws/collaboration', user('a'));
    const b = await pool.open('/ws/collaboration', user('b'));
    await reply(a, 'room.join', { roomId: 'r1' });
    await reply(b, 'room.join', { roomId: 'r1' });
    const again = await reply(b, 'room.join', { roomId: 'r1' });
    expect(again.event).toBe('room.joined');
    expect(sortMembers(again.data?.members).map((m) => m.userId)).toEqual(['a', 'b']);
    await seen(a, 'room.presence');
    expect(await framesAfter(a, (f) => f.event === 'room.presence', 150)).toHaveLength(1);
  });

  test('room.leave answers room.left {roomId}; the others get presence leave, the leaver does not', async () => {
    const a = await pool.open('/ws/collaboration', user('a', 'Alice'));
    const b = await pool.open('/ws/collaboration', user('b', 'Bob'));
    await reply(a, 'room.join', { roomId: 'r1' });
    await reply(b, 'room.join', { roomId: 'r1' });
    const left = await reply(b, 'room.leave', { roomId: 'r1' });
    expect(left.event).toBe('room.left');
    expect(left.data).toEqual({ roomId: 'r1' });
    const leave = await seen(a, (f) => f.event === 'room.presence' && f.data?.action === 'leave');
    expect(leave.data).toEqual({ roomId: 'r1', action: 'leave', user: { userId: 'b', username: 'Bob' } });
    expect(await framesAfter(b, (f) => f.event === 'room.presence', 100)).toEqual([]);
    expect((await reply(a, 'room.join', { roomId: 'r1' })).data?.members).toEqual([{ userId: 'a', username: 'Alice' }]);
  });

  test.each([
    ['close()', (c: Client) => c.close()],
    ['terminate()', (c: Client) => c.socket.terminate()],
  ])('findings 7/20: a member that disconnects with %s leaves: presence leave to the rest, members updated', async (_l, disconnect) => {
    const a = await pool.open('/ws/collaboration', user('a', 'Alice'));
    const b = await pool.open('/ws/collaboration', user('b', 'Bob'));
    await reply(a, 'room.join', { roomId: 'r1' });
    await reply(b, 'room.join', { roomId: 'r1' });
    disconnect(b);
    const leave = await seen(a, (f) => f.event === 'room.presence' && f.data?.action === 'leave');
    expect(leave.data).toEqual({ roomId: 'r1', action: 'leave', user: { userId: 'b', username: 'Bob' } });
    expect((await reply(a, 'room.join', { roomId: 'r1' })).data?.members).toEqual([{ userId: 'a', username: 'Alice' }]);
  });

  test('presence is per user: a second tab neither appears twice in members nor emits join; the last tab leaving emits leave', async () => {
    const b = await pool.open('/ws/collaboration', user('b', 'Bob'));
    const a1 = await pool.open('/ws/collaboration', user('a', 'Alice'));
    const a2 = await pool.open('/ws/collaboration', user('a', 'Alice'));
    const c = await pool.open('/ws/collaboration', user('c', 'Cy'));
    await reply(b, 'room.join', { roomId: 'r1' });
    await reply(a1, 'room.join', { roomId: 'r1' });
    const second = await reply(a2, 'room.join', { roomId: 'r1' });
    expect(sortMembers(second.data?.members)).toEqual([
      { userId: 'a', username: 'Alice' },
      { userId: 'b', username: 'Bob' },
    ]);
    // Sentinel: c joins; once b has seen c's join, a second "join a" would have arrived.
    await reply(c, 'room.join', { roomId: 'r1' });
    await seen(b, (f) => f.event === 'room.presence' && (f.data?.user as { userId: string }).userId === 'c');
    expect(presence(b)).toEqual([{ action: 'join', userId: 'a' }, { action: 'join', userId: 'c' }]);
    // The first tab of a saw c's join, and so did the second.
    await seen(a1, (f) => f.event === 'room.presence' && (f.data?.user as { userId: string }).userId === 'c');
    await seen(a2, (f) => f.event === 'room.presence' && (f.data?.user as { userId: string }).userId === 'c');

    // One tab of a leaves (room.leave): a is still present, so no leave.
    expect((await reply(a1, 'room.leave', { roomId: 'r1' })).event).toBe('room.left');
    const members = await reply(c, 'room.join', { roomId: 'r1' });
    expect(sortMembers(members.data?.members).map((m) => m.userId)).toEqual(['a', 'b', 'c']);
    // Sentinel: c leaves; b sees it; no leave of a may precede it.
    await reply(c, 'room.leave', { roomId: 'r1' });
    await seen(b, (f) => f.event === 'room.presence' && f.data?.action === 'leave');
    expect(presence(b)).toEqual([
      { action: 'join', userId: 'a' },
      { action: 'join', userId: 'c' },
      { action: 'leave', userId: 'c' },
    ]);

    // The last tab of a goes (terminate): now b gets "leave a".
    a2.socket.terminate();
    await seen(b, (f) => f.event === 'room.presence' && f.data?.action === 'leave' && (f.data?.user as { userId: string }).userId === 'a');
    expect(presence(b).filter((p) => p.userId === 'a')).toEqual([{ action: 'join', userId: 'a' }, { action: 'leave', userId: 'a' }]);
  });

  test('a user whose one tab closes while another tab stays is still a member (no leave on disconnect)', async () => {
    const b = await pool.open('/ws/collaboration', user('b'));
    const a1 = await pool.open('/ws/collaboration', user('a'));
    const a2 = await pool.open('/ws/collaboration', user('a'));
    await reply(b, 'room.join', { roomId: 'r1' });
    await reply(a1, 'room.join', { roomId: 'r1' });
    await reply(a2, 'room.join', { roomId: 'r1' });
    a1.socket.terminate();
    await a1.closed;
    await sleep(100);
    const again = await reply(b, 'room.join', { roomId: 'r1' });
    expect(sortMembers(again.data?.members).map((m) => m.userId)).toEqual(['a', 'b']);
    expect(presence(b)).toEqual([{ action: 'join', userId: 'a' }]);
  });
});

describe('room.broadcast', () => {
  test('relayed as room.message {roomId, from, data, timestamp} to the other members only, with no reply to the sender', async () => {
    const a = await pool.open('/ws/collaboration', user('a', 'Alice'));
    const b = await pool.open('/ws/collaboration', user('b', 'Bob'));
    const c = await pool.open('/ws/collaboration', user('c', 'Cy'));
    for (const x of [a, b, c]) await reply(x, 'room.join', { roomId: 'r1' });

    a.send({ event: 'room.broadcast', data: { roomId: 'r1', data: { cursor: { x: 1, y: 2 }, text: 'hi' } }, id: 'bc1' });
    for (const x of [b, c]) {
      const m = await seen(x, 'room.message');
      expect(m.data).toMatchObject({ roomId: 'r1', from: { userId: 'a', username: 'Alice' }, data: { cursor: { x: 1, y: 2 }, text: 'hi' } });
      expect(Object.keys(m.data!).sort()).toEqual(['data', 'from', 'roomId', 'timestamp']);
      expectIsoTimestamp(m.data?.timestamp);
      expect(Math.abs(Date.parse(m.data?.timestamp as string) - Date.now())).toBeLessThan(5000);
    }
    // Sentinel from b: a receives it, so a's own message would have arrived by now.
    b.send({ event: 'room.broadcast', data: { roomId: 'r1', data: { from: 'b' } } });
    await seen(a, 'room.message');
    expect(messages(a).map((f) => (f.data?.from as { userId: string }).userId)).toEqual(['b']);
    expect(a.frames.filter((f) => f.id === 'bc1')).toEqual([]);
    await seen(c, (f) => f.event === 'room.message' && (f.data?.from as { userId: string }).userId === 'b');
    expect(messages(b).map((f) => (f.data?.from as { userId: string }).userId)).toEqual(['a']);
  });

  test('the `from` identity comes from the token, a payload cannot set it (finding 6)', async () => {
    const a = await pool.open('/ws/collaboration', user('a', 'Alice'));
    const b = await pool.open('/ws/collaboration', user('b'));
    await reply(a, 'room.join', { roomId: 'r1' });
    await reply(b, 'room.join', { roomId: 'r1' });
    expectError(await reply(a, 'room.broadcast', { roomId: 'r1', data: {}, from: { userId: 'b' } }), 'VALIDATION_FAILED', 'room.broadcast');
    expectError(await reply(a, 'room.broadcast', { roomId: 'r1', data: {}, userId: 'b' }), 'VALIDATION_FAILED', 'room.broadcast');
    expectError(await reply(a, 'room.broadcast', { roomId: 'r1', data: {}, username: 'Bob' }), 'VALIDATION_FAILED', 'room.broadcast');
    expect(await framesAfter(b, (f) => f.event === 'room.message', 100)).toEqual([]);
  });

  test('room.broadcast to a room not joined → UNAUTHORIZED "Unauthorized", members get nothing', async () => {
    const a = await pool.open('/ws/collaboration', user('a'));
    const outsider = await pool.open('/ws/collaboration', user('x'));
    await reply(a, 'room.join', { roomId: 'r1' });
    const denied = await reply(outsider, 'room.broadcast', { roomId: 'r1', data: { intrude: true } });
    expectError(denied, 'UNAUTHORIZED', 'room.broadcast');
    expect(denied.message).toBe('Unauthorized');
    // After leaving, broadcasting is refused too.
    await reply(outsider, 'room.join', { roomId: 'r1' });
    await reply(outsider, 'room.leave', { roomId: 'r1' });
    expectError(await reply(outsider, 'room.broadcast', { roomId: 'r1', data: { intrude: 2 } }), 'UNAUTHORIZED', 'room.broadcast');
    expect(await framesAfter(a, (f) => f.event === 'room.message', 100)).toEqual([]);
  });

  test('membership is per connection: another tab of a member that has not joined → UNAUTHORIZED on room.broadcast', async () => {
    const a1 = await pool.open('/ws/collaboration', user('a'));
    const a2 = await pool.open('/ws/collaboration', user('a'));
    const b = await pool.open('/ws/collaboration', user('b'));
    await reply(a1, 'room.join', { roomId: 'r1' });
    await reply(b, 'room.join', { roomId: 'r1' });
    expectError(await reply(a2, 'room.broadcast', { roomId: 'r1', data: { tab: 2 } }), 'UNAUTHORIZED', 'room.broadcast');
    expect(await framesAfter(b, (f) => f.event === 'room.message', 100)).toEqual([]);
    // And the tab that did not join receives nothing from the room.
    b.send({ event: 'room.broadcast', data: { roomId: 'r1', data: { to: 'a' } } });
    await seen(a1, 'room.message');
    expect(await framesAfter(a2, (f) => f.event === 'room.message' || f.event === 'room.presence', 100)).toEqual([]);
  });

  test('isolation: a user not in the room never gets its messages or presence', async () => {
    const a = await pool.open('/ws/collaboration', user('a'));
    const b = await pool.open('/ws/collaboration', user('b'));
    const d = await pool.open('/ws/collaboration', user('d'));
    await reply(a, 'room.join', { roomId: 'r1' });
    await reply(b, 'room.join', { roomId: 'r1' });
    await reply(d, 'room.join', { roomId: 'r2' });
    a.send({ event: 'room.broadcast', data: { roomId: 'r1', data: { secret: 1 } } });
    await seen(b, 'room.message');
    // Sentinel in r2: d receives it, so any r1 frame would have arrived before.
    const e = await pool.open('/ws/collaboration', user('e'));
    await reply(e, 'room.join', { roomId: 'r2' });
    e.send({ event: 'room.broadcast', data: { roomId: 'r2', data: { r2: true } } });
    await seen(d, 'room.message');
    expect(d.all('room.message').map((f) => f.data?.roomId)).toEqual(['r2']);
    expect(d.all('room.presence').map((f) => f.data?.roomId)).toEqual(['r2']);
    expect(a.all('room.message')).toEqual([]);
    expect(a.all('room.presence').every((f) => f.data?.roomId === 'r1')).toBe(true);
  });

  test('finding 10: data over 16 KiB → VALIDATION_FAILED; data at the limit is relayed', async () => {
    const a = await pool.open('/ws/collaboration', user('a'));
    const b = await pool.open('/ws/collaboration', user('b'));
    await reply(a, 'room.join', { roomId: 'r1' });
    await reply(b, 'room.join', { roomId: 'r1' });
    // {"s":"…"} is 8 bytes plus the string.
    const over = await reply(a, 'room.broadcast', { roomId: 'r1', data: { s: 'x'.repeat(16 * 1024 - 8 + 1) } });
    expectError(over, 'VALIDATION_FAILED', 'room.broadcast');
    const atLimit = { s: 'y'.repeat(16 * 1024 - 8) };
    a.send({ event: 'room.broadcast', data: { roomId: 'r1', data: atLimit } });
    const relayed = await seen(b, 'room.message');
    expect(relayed.data?.data).toEqual(atLimit);
    expect(b.all('room.message')).toHaveLength(1);
  });

  test('finding 10: a room.broadcast frame over 24 KiB → PAYLOAD_TOO_LARGE and the connection stays open', async () => {
    const a = await pool.open('/ws/collaboration', user('a'));
    const b = await pool.open('/ws/collaboration', user('b'));
    await reply(a, 'room.join', { roomId: 'r1' });
    await reply(b, 'room.join', { roomId: 'r1' });
    const big = await reply(a, 'room.broadcast', { roomId: 'r1', data: { s: 'x'.repeat(24 * 1024 + 10) } });
    expectError(big, 'PAYLOAD_TOO_LARGE', 'room.broadcast');
    expect(a.socket.readyState).toBe(1);
    a.send({ event: 'room.broadcast', data: { roomId: 'r1', data: { ok: true } } });
    expect((await seen(b, 'room.message')).data?.data).toEqual({ ok: true });
    expect(b.all('room.message')).toHaveLength(1);
  });

  test.each([
    ['an array data', { roomId: 'r1', data: [1, 2] }],
    ['a string data', { roomId: 'r1', data: 'text' }],
    ['no data', { roomId: 'r1' }],
    ['a bad roomId', { roomId: 'r 1', data: {} }],
  ])('room.broadcast with %s → VALIDATION_FAILED', async (_l, payload) => {
    const a = await pool.open('/ws/collaboration', user('a'));
    await reply(a, 'room.join', { roomId: 'r1' });
    expectError(await reply(a, 'room.broadcast', payload as Record<string, unknown>), 'VALIDATION_FAILED', 'room.broadcast');
  });
});

describe('validation and caps', () => {
  test.each([
    ['a bad roomId', { roomId: 'room/1' }],
    ['a roomId over 64 chars', { roomId: 'r'.repeat(65) }],
    ['no roomId', {}],
    ['a userId field', { roomId: 'r1', userId: 'someone' }],
    ['a username field', { roomId: 'r1', username: 'someone' }],
  ])('finding 6: room.join with %s → VALIDATION_FAILED, nothing joined', async (_l, payload) => {
    const a = await pool.open('/ws/collaboration', user('a'));
    expectError(await reply(a, 'room.join', payload as Record<string, unknown>), 'VALIDATION_FAILED', 'room.join');
    expect((await server.stats()).subscriptions.subscriptions).toBe(0);
  });

  test('finding 10: a room.join frame over 4 KiB → PAYLOAD_TOO_LARGE', async () => {
    const a = await pool.open('/ws/collaboration', user('a'));
    expectError(await reply(a, 'room.join', { roomId: 'r1', pad: 'x'.repeat(5000) }), 'PAYLOAD_TOO_LARGE', 'room.join');
  });

  test('a pending connection cannot join: UNAUTHORIZED', async () => {
    const p = await pool.open('/ws/collaboration');
    expectError(await reply(p, 'room.join', { roomId: 'r1' }), 'UNAUTHORIZED', 'room.join');
    expect((await server.stats()).subscriptions.subscriptions).toBe(0);
  });

  test('finding 20: empty rooms are deleted (topics back to 0) after leave, close and terminate', async () => {
    const a = await pool.open('/ws/collaboration', user('a'));
    const b = await pool.open('/ws/collaboration', user('b'));
    const c = await pool.open('/ws/collaboration', user('c'));
    await reply(a, 'room.join', { roomId: 'r1' });
    await reply(a, 'room.join', { roomId: 'r2' });
    await reply(b, 'room.join', { roomId: 'r2' });
    await reply(c, 'room.join', { roomId: 'r3' });
    expect((await server.stats()).subscriptions).toEqual({ topics: 3, subscriptions: 4, connections: 3 });
    expect((await server.stats()).rooms).toBe(3);
    await reply(a, 'room.leave', { roomId: 'r1' });
    await eventually(async () => (await server.stats()).rooms === 2);
    expect((await server.stats()).subscriptions).toEqual({ topics: 2, subscriptions: 3, connections: 3 });
    b.close();
    c.socket.terminate();
    await Promise.all([b.closed, c.closed]);
    await seen(a, (f) => f.event === 'room.presence' && f.data?.action === 'leave');
    await eventually(async () => (await server.stats()).connections.connections === 1);
    expect((await server.stats()).subscriptions).toEqual({ topics: 1, subscriptions: 1, connections: 1 });
    await reply(a, 'room.leave', { roomId: 'r2' });
    expect((await server.stats()).subscriptions).toEqual({ topics: 0, subscriptions: 0, connections: 0 });
    // The presence store forgets empty rooms too.
    await eventually(async () => (await server.stats()).rooms === 0);
  });
});

describe('member cap (maxRoomMembers 2) and rooms per connection (maxSubscriptions 3)', () => {
  let capped: ServerHandle;
  const cpool = new ClientPool(() => capped);
  beforeAll(async () => {
    capped = await startServer({ options: { maxRoomMembers: 2, maxSubscriptions: 3 } });
  });
  afterEach(async () => {
    await cpool.closeAll();
  });
  afterAll(async () => {
    await capped.stop();
  });

  test('the member past maxRoomMembers → LIMIT_EXCEEDED; no presence, not a member; a freed place can be taken', async () => {
    const a = await cpool.open('/ws/collaboration', user('a'));
    const b = await cpool.open('/ws/collaboration', user('b'));
    const c = await cpool.open('/ws/collaboration', user('c'));
    await reply(a, 'room.join', { roomId: 'full' });
    await reply(b, 'room.join', { roomId: 'full' });
    const refused = await reply(c, 'room.join', { roomId: 'full' });
    expectError(refused, 'LIMIT_EXCEEDED', 'room.join');
    expect(c.socket.readyState).toBe(1);
    expectError(await reply(c, 'room.broadcast', { roomId: 'full', data: {} }), 'UNAUTHORIZED', 'room.broadcast');
    // Another room is fine.
    expect((await reply(c, 'room.join', { roomId: 'other' })).event).toBe('room.joined');

    await reply(b, 'room.leave', { roomId: 'full' });
    await seen(a, (f) => f.event === 'room.presence' && f.data?.action === 'leave');
    expect(presence(a, 'full')).toEqual([{ action: 'join', userId: 'b' }, { action: 'leave', userId: 'b' }]);
    const now = await reply(c, 'room.join', { roomId: 'full' });
    expect(sortMembers(now.data?.members).map((m) => m.userId)).toEqual(['a', 'c']);
  });

  test('the room past maxSubscriptions on one connection → LIMIT_EXCEEDED, nobody is told it joined', async () => {
    const a = await cpool.open('/ws/collaboration', user('a'));
    const w = await cpool.open('/ws/collaboration', user('w'));
    await reply(w, 'room.join', { roomId: 'x4' });
    for (const r of ['x1', 'x2', 'x3']) expect((await reply(a, 'room.join', { roomId: r })).event).toBe('room.joined');
    expectError(await reply(a, 'room.join', { roomId: 'x4' }), 'LIMIT_EXCEEDED', 'room.join');
    expect(await framesAfter(w, (f) => f.event === 'room.presence', 100)).toEqual([]);
    expect((await reply(w, 'room.join', { roomId: 'x4' })).data?.members).toEqual([{ userId: 'w', username: 'w' }]);
    await reply(a, 'room.leave', { roomId: 'x1' });
    expect((await reply(a, 'room.join', { roomId: 'x4' })).event).toBe('room.joined');
    expect((await seen(w, 'room.presence')).data).toMatchObject({ action: 'join', user: { userId: 'a' } });
  });
});

describe('R3: room budgets (docs/protocol.md §11): distinct-user cap, connections per user, idempotent re-join, broadcast bytes', () => {
  const BYTES_PER_SEC = 1000;
  let budget: ServerHandle;
  const bpool = new ClientPool(() => budget);
  beforeAll(async () => {
    budget = await startServer({
      countPresenceCalls: true,
      options: { maxRoomMembers: 3, maxRoomConnectionsPerUser: 2, roomBroadcastBytesPerSec: BYTES_PER_SEC, rateBurst: 1000, ratePerSec: 1000 },
    });
  });
  afterEach(async () => {
    await bpool.closeAll();
  });
  afterAll(async () => {
    await budget.stop();
  });

  test('R3: WS_MAX_ROOM_MEMBERS counts distinct users; a user past WS_MAX_ROOM_CONNECTIONS_PER_USER connections in one room → LIMIT_EXCEEDED', async () => {
    const a = await Promise.all([1, 2, 3].map(() => bpool.open('/ws/collaboration', user('a'))));
    const [b, c, d] = await Promise.all(['b', 'c', 'd'].map((u) => bpool.open('/ws/collaboration', user(u))));
    expect((await reply(a[0]!, 'room.join', { roomId: 'cap' })).event).toBe('room.joined');
    // The second tab of a takes no place among the 3 users.
    expect((await reply(a[1]!, 'room.join', { roomId: 'cap' })).event).toBe('room.joined');
    const third = await reply(a[2]!, 'room.join', { roomId: 'cap' });
    expectError(third, 'LIMIT_EXCEEDED', 'room.join');
    expect(third.message).toBe('Too many connections of this user in the room');
    expectError(await reply(a[2]!, 'room.broadcast', { roomId: 'cap', data: {} }), 'UNAUTHORIZED', 'room.broadcast');
    await reply(b!, 'room.join', { roomId: 'cap' });
    await reply(c!, 'room.join', { roomId: 'cap' });
    const full = await reply(d!, 'room.join', { roomId: 'cap' });
    expectError(full, 'LIMIT_EXCEEDED', 'room.join');
    expect(full.message).toBe('Room is full');
    expect(await framesAfter(b!, (f) => f.event === 'room.presence' && (f.data?.user as { userId: string }).userId === 'd', 100)).toEqual([]);
    // A tab of a leaves: the third tab now fits; d still does not (a is still a member).
    await reply(a[0]!, 'room.leave', { roomId: 'cap' });
    expect((await reply(a[2]!, 'room.join', { roomId: 'cap' })).event).toBe('room.joined');
    expectError(await reply(d!, 'room.join', { roomId: 'cap' }), 'LIMIT_EXCEEDED', 'room.join');
    // c leaves: d takes the place.
    await reply(c!, 'room.leave', { roomId: 'cap' });
    const now = await reply(d!, 'room.join', { roomId: 'cap' });
    expect(sortMembers(now.data?.members).map((m) => m.userId)).toEqual(['a', 'b', 'd']);
    expect((await budget.stats()).subscriptions).toMatchObject({ subscriptions: 4 });
  });

  test('R3: room.join of a room the connection is already in answers room.joined again and changes nothing: no presence, no count, no store call', async () => {
    const [a, b1, b2] = await Promise.all([bpool.open('/ws/collaboration', user('a')), bpool.open('/ws/collaboration', user('b')), bpool.open('/ws/collaboration', user('b'))]);
    await reply(a, 'room.join', { roomId: 'again' });
    await reply(b1, 'room.join', { roomId: 'again' });
    await reply(b2, 'room.join', { roomId: 'again' }); // b at its cap of 2 connections
    await seen(a, 'room.presence');
    const before = await budget.stats();
    for (let i = 0; i < 50; i += 1) {
      const again = await reply(i % 2 ? b1 : b2, 'room.join', { roomId: 'again' });
      expect(again.event).toBe('room.joined');
      expect(sortMembers(again.data?.members).map((m) => m.userId)).toEqual(['a', 'b']);
    }
    const after = await budget.stats();
    expect(after.presenceCalls).toEqual(before.presenceCalls);
    expect(after.subscriptions).toEqual(before.subscriptions);
    expect(await framesAfter(a, (f) => f.event === 'room.presence', 100)).toHaveLength(1);
    // Still one membership each: one leave of b1 keeps b present, the second announces b's leave.
    await reply(b1, 'room.leave', { roomId: 'again' });
    await reply(b2, 'room.leave', { roomId: 'again' });
    await seen(a, (f) => f.event === 'room.presence' && f.data?.action === 'leave');
    expect(presence(a, 'again')).toEqual([{ action: 'join', userId: 'b' }, { action: 'leave', userId: 'b' }]);
  });

  test('R3: room.broadcast is limited in raw frame bytes per connection (WS_ROOM_BROADCAST_BYTES_PER_SEC, bursts of twice that) → RATE_LIMITED with retryAfterMs', async () => {
    const [a, a2, b] = await Promise.all([bpool.open('/ws/collaboration', user('a')), bpool.open('/ws/collaboration', user('a')), bpool.open('/ws/collaboration', user('b'))]);
    for (const c of [a, a2, b]) await reply(c, 'room.join', { roomId: 'bytes' });
    // Frames of 450 bytes: the burst (2 × 1000) holds 4 of them; the refill (1000 B/s) gives
    // the 5th only 250 ms later, long after 8 frames sent at once have been answered.
    const frame = (i: number, pad: number) => ({ event: 'room.broadcast', data: { roomId: 'bytes', data: { i, pad: 'x'.repeat(pad) } }, id: `bb${i}` });
    const padFor450 = 450 - Buffer.byteLength(JSON.stringify(frame(0, 0)));
    expect(Buffer.byteLength(JSON.stringify(frame(7, padFor450)))).toBe(450);
    for (let i = 0; i < 8; i += 1) a.send(frame(i, padFor450));
    const limited: Array<Awaited<ReturnType<typeof seen>>> = [];
    for (let i = 4; i < 8; i += 1) limited.push(await seen(a, (f) => f.id === `bb${i}`));
    for (const f of limited) {
      expectError(f, 'RATE_LIMITED', 'room.broadcast');
      expect(f.retryAfterMs).toEqual(expect.any(Number));
      expect(f.retryAfterMs as number).toBeGreaterThan(0);
    }
    expect(a.frames.filter((f) => f.event === 'error' && ['bb0', 'bb1', 'bb2', 'bb3'].includes(String(f.id)))).toEqual([]);
    await eventually(async () => b.all('room.message').length === 4);
    expect(b.all('room.message').map((f) => (f.data?.data as { i: number }).i)).toEqual([0, 1, 2, 3]);
    // Bytes, not messages: small frames still pass on another connection of the same user (the budget is per connection).
    a2.send({ event: 'room.broadcast', data: { roomId: 'bytes', data: { small: true } } });
    await eventually(async () => b.all('room.message').length === 5);
    // After retryAfterMs the budget has refilled enough for the next frame.
    await sleep((limited[0]!.retryAfterMs as number) + 20);
    a.send(frame(8, padFor450));
    await eventually(async () => b.all('room.message').length === 6);
    expect(a.frames.some((f) => f.id === 'bb8' && f.event === 'error')).toBe(false);
  });
});
