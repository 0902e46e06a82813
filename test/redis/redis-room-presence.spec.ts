/** Collaboration presence across nodes, with InMemoryRoomPresenceStore's semantics (issue 5). */
import { RedisRoomPresenceStore } from '../../src/redis/redis-room-presence.store.js';
import { connect, deleteKeys, eventually, keysUnder, type TestConnection, uniquePrefix } from './redis-helpers.js';

const TTL = 600;
const alice = { userId: 'alice', username: 'Alice' };
const bob = { userId: 'bob', username: 'Bob' };
const carol = { userId: 'carol', username: 'Carol' };

let connA: TestConnection;
let connB: TestConnection;
const stores: RedisRoomPresenceStore[] = [];

function node(nodeId: string, conn = connA): RedisRoomPresenceStore {
  const store = new RedisRoomPresenceStore({ connection: conn, nodeId, livenessTtlMs: TTL });
  stores.push(store);
  return store;
}

beforeAll(async () => {
  const prefix = uniquePrefix();
  [connA, connB] = await Promise.all([connect(prefix), connect(prefix)]);
});

afterAll(async () => {
  for (const s of stores) s.close();
  await deleteKeys(connA);
  await Promise.all([connA.close(), connB.close()]);
});

test('members, firstOfUser and lastOfUser are per user across nodes', async () => {
  const a = node('na1');
  const b = node('nb1', connB);
  expect(await a.join('r1', 'c1', alice, 10)).toEqual({ joined: true, firstOfUser: true, members: [alice] });
  expect(await b.join('r1', 'c2', bob, 10)).toEqual({ joined: true, firstOfUser: true, members: [alice, bob] });
  // Alice's second tab, on the other node: no second entry, no join presence.
  expect(await b.join('r1', 'c3', alice, 10)).toEqual({ joined: true, firstOfUser: false, members: [alice, bob] });
  // Joining again with the same connection changes nothing.
  expect(await b.join('r1', 'c3', alice, 10)).toEqual({ joined: true, firstOfUser: false, members: [alice, bob] });
  expect(await a.leave('r1', 'c1', 'alice')).toBe(false); // still there through c3 on node B
  expect(await b.leave('r1', 'c3', 'alice')).toBe(true);
  expect(await a.leave('r1', 'c1', 'alice')).toBe(false); // not a member any more
  expect(await a.join('r1', 'c4', carol, 10)).toEqual({ joined: true, firstOfUser: true, members: [bob, carol] });
});

test('rooms() counts the rooms this node has members in; an emptied room is deleted from Redis', async () => {
  const a = node('na2');
  const b = node('nb2', connB);
  await a.join('r2', 'c1', alice, 10);
  await a.join('r3', 'c2', alice, 10);
  await b.join('r2', 'c3', bob, 10);
  expect(await a.rooms()).toBe(2);
  expect(await b.rooms()).toBe(1);
  await a.leave('r2', 'c1', 'alice');
  await a.leave('r3', 'c2', 'alice');
  expect(await a.rooms()).toBe(0);
  expect(await b.leave('r2', 'c3', 'bob')).toBe(true);
  const keys = await keysUnder(connA);
  expect(keys.filter((k) => k.includes(':room:r2') || k.includes(':room:r3'))).toEqual([]);
});

test('the member cap counts connections on every node, atomically', async () => {
  const a = node('na3');
  const b = node('nb3', connB);
  expect((await a.join('r4', 'c1', alice, 2)).joined).toBe(true);
  expect((await b.join('r4', 'c2', bob, 2)).joined).toBe(true);
  expect(await a.join('r4', 'c3', carol, 2)).toEqual({ joined: false, firstOfUser: false, members: [] });
  const racers = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).join('r5', `x${i}`, { userId: `u${i}`, username: 'U' }, 3)));
  expect(racers.filter((r) => r.joined)).toHaveLength(3);
  expect(await connA.command.hlen(`${connA.prefix}room:r5`)).toBe(4); // 3 members + the join counter
});

test("a dead node's members disappear after its liveness TTL and free their places", async () => {
  const dead = node('dead4');
  const b = node('nb4', connB);
  await dead.join('r6', 'c1', alice, 2);
  await b.join('r6', 'c2', bob, 2);
  expect((await b.join('r6', 'c3', carol, 2)).joined).toBe(false);
  dead.close(); // stops renewing its liveness key, like a crash
  const stoppedAt = Date.now();
  await eventually(async () => {
    expect(await b.join('r6', 'c3', carol, 2)).toEqual({ joined: true, firstOfUser: true, members: [bob, carol] });
  }, TTL * 3);
  expect(Date.now() - stoppedAt).toBeLessThanOrEqual(TTL + 400);
  // The survivor's sweep removes the dead member and reports its user as departed, once.
  expect(await b.sweepDeparted()).toEqual([{ roomId: 'r6', user: alice }]);
  expect(await b.sweepDeparted()).toEqual([]);
  const fields = await connA.command.hkeys(`${connA.prefix}room:r6`);
  expect(fields.filter((f) => f.startsWith('dead4:'))).toEqual([]);
});

test('a dead member whose user is still in the room on a live node is removed without a departure', async () => {
  const dead = node('dead5');
  const b = node('nb5', connB);
  await dead.join('r7', 'c1', alice, 10);
  await b.join('r7', 'c2', alice, 10);
  dead.close();
  // Every sweep reports nobody (alice is still there through nb5) until the dead entry is gone.
  await eventually(async () => {
    expect(await b.sweepDeparted()).toEqual([]);
    const fields = await connA.command.hkeys(`${connA.prefix}room:r7`);
    expect(fields.filter((f) => f.startsWith('dead5:'))).toEqual([]);
  }, TTL * 3);
  expect((await b.join('r7', 'c3', bob, 10)).members).toEqual([alice, bob]);
});

test('a live node keeps its members past the TTL (heartbeat)', async () => {
  const a = node('na5');
  const b = node('nb5', connB);
  await a.join('r7', 'c1', alice, 10);
  await new Promise((resolve) => setTimeout(resolve, TTL * 2));
  expect((await b.join('r7', 'c2', bob, 10)).members).toEqual([alice, bob]);
});

test('node ids that could break the field layout are refused', () => {
  expect(() => new RedisRoomPresenceStore({ connection: connA, nodeId: 'a:b' })).toThrow(RangeError);
  expect(() => new RedisRoomPresenceStore({ connection: connA, nodeId: '' })).toThrow(RangeError);
});
