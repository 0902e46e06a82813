/** Collaboration presence across nodes, with InMemoryRoomPresenceStore's semantics (issue 5), on a standalone Redis and on a Cluster. */
import { RedisRoomPresenceStore } from '../../src/redis/redis-room-presence.store.js';
import { redisCommandsOn } from '../support/redis-monitor.js';
import { eventually } from './redis-helpers.js';
import { keysOf, keyspacePair, REDIS_KINDS, type TestKeyspace, urlsOf } from './redis-kinds.js';

const TTL = 600;
const alice = { userId: 'alice', username: 'Alice' };
const bob = { userId: 'bob', username: 'Bob' };
const carol = { userId: 'carol', username: 'Carol' };

describe.each(REDIS_KINDS)('on %s Redis', (kind) => {
  let connA: TestKeyspace;
  let connB: TestKeyspace;
  const stores: RedisRoomPresenceStore[] = [];
  const nodes = keyspacePair(kind, () => stores.forEach((s) => s.close()));

  function node(nodeId: string, conn = connA, livenessTtlMs = TTL): RedisRoomPresenceStore {
    const store = new RedisRoomPresenceStore({ connection: conn, nodeId, livenessTtlMs });
    stores.push(store);
    return store;
  }

  beforeAll(() => {
    ({ a: connA, b: connB } = nodes);
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
    const keys = await keysOf(connA);
    expect(keys.filter((k) => k.includes('{room:r2}') || k.includes('{room:r3}'))).toEqual([]);
  });

  test('R3: the member cap counts distinct users on every node, atomically; one user at most maxConnectionsPerUser connections', async () => {
    const a = node('na3');
    const b = node('nb3', connB);
    expect((await a.join('r4', 'c1', alice, 2, 2)).joined).toBe(true);
    expect((await b.join('r4', 'c2', bob, 2, 2)).joined).toBe(true);
    // A second connection of a member takes no place (the cap counts users), up to the per-user cap.
    expect(await a.join('r4', 'c4', alice, 2, 2)).toEqual({ joined: true, firstOfUser: false, members: [alice, bob] });
    expect(await b.join('r4', 'c5', alice, 2, 2)).toEqual({ joined: false, full: 'user' });
    expect(await a.join('r4', 'c3', carol, 2, 2)).toEqual({ joined: false, full: 'room' });
    // Bob leaves: his place goes to carol.
    expect(await b.leave('r4', 'c2', 'bob')).toBe(true);
    expect(await a.join('r4', 'c3', carol, 2, 2)).toEqual({ joined: true, firstOfUser: true, members: [alice, carol] });
    const racers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).join('r5', `x${i}`, { userId: `u${i % 10}`, username: 'U' }, 3, 4)),
    );
    // Ten users with two connections each race for three places: exactly three users get in, with both connections.
    const admitted = new Set(racers.flatMap((r, i) => (r.joined ? [i % 10] : [])));
    expect(admitted.size).toBe(3);
    expect(racers.filter((r) => r.joined)).toHaveLength(6);
    expect(await connA.command.hlen(`${connA.prefix}{room:r5}`)).toBe(6);
    expect(await connA.command.hget(`${connA.prefix}{room:r5}:users`, '#users')).toBe('3');
  });

  test("a dead node's members disappear after its liveness TTL and free their places", async () => {
    const dead = node('dead4');
    const b = node('nb4', connB);
    await dead.join('r6', 'c1', alice, 2);
    await b.join('r6', 'c2', bob, 2);
    expect((await b.join('r6', 'c3', carol, 2)).joined).toBe(false);
    dead.close(); // stops renewing its liveness, like a crash
    const stoppedAt = Date.now();
    await eventually(async () => {
      expect(await b.join('r6', 'c3', carol, 2)).toEqual({ joined: true, firstOfUser: true, members: [bob, carol] });
    }, TTL * 3);
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(TTL + 400);
    // The survivor's sweep removes the dead member and reports its user as departed, once.
    expect(await b.sweepDeparted()).toEqual([{ roomId: 'r6', user: alice }]);
    expect(await b.sweepDeparted()).toEqual([]);
    const fields = await connA.command.hkeys(`${connA.prefix}{room:r6}`);
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
      const fields = await connA.command.hkeys(`${connA.prefix}{room:r7}`);
      expect(fields.filter((f) => f.startsWith('dead5:'))).toEqual([]);
    }, TTL * 3);
    expect(await b.join('r7', 'c3', bob, 10)).toMatchObject({ joined: true, members: [alice, bob] });
  });

  test('a live node keeps its members past the TTL (heartbeat)', async () => {
    const a = node('na5');
    const b = node('nb5', connB);
    await a.join('r7', 'c1', alice, 10);
    await new Promise((resolve) => setTimeout(resolve, TTL * 2));
    expect(await b.join('r7', 'c2', bob, 10)).toMatchObject({ joined: true, members: [alice, bob] });
  });

  test('node ids that could break the field layout are refused', () => {
    expect(() => new RedisRoomPresenceStore({ connection: connA, nodeId: 'a:b' })).toThrow(RangeError);
    expect(() => new RedisRoomPresenceStore({ connection: connA, nodeId: '' })).toThrow(RangeError);
  });

  /**
   * Commands Redis runs on `room`'s keys while `act` runs, as `<command> <key>` (script-internal
   * ones `lua:`; a script call shows its first key), watched on every server of the kind.
   */
  const commandsOn = async (room: string, act: () => Promise<void>): Promise<string[]> => {
    const tag = `{room:${room}}`;
    return (await redisCommandsOn(connA.prefix, act, urlsOf(kind)))
      .map(([command, ...args]) => `${command} ${(/^eval/.test(command!) ? args[2] : args[0]) ?? ''}`)
      .filter((line) => line.includes(tag))
      .map((line) => line.replace(tag, '{room:<id>}'));
  };

  test('R3: join and re-join cost Redis the same commands in a room of 500 as in a room of 2; no member is read or decoded', async () => {
    // A long liveness TTL: no heartbeat of this node runs while its joins are watched.
    const a = node('nr3', connA, 60_000);
    for (let i = 0; i < 500; i += 1) await a.join('big', `c${i}`, { userId: `u${i}`, username: `User ${i}` }, 1000);
    await a.join('small', 'c0', alice, 1000);
    await a.join('small', 'c1', bob, 1000);
    const rejoin = (room: string) => commandsOn(room, async () => void (await a.join(room, 'c0', alice, 1000)));
    const join = (room: string) => commandsOn(room, async () => void (await a.join(room, 'fresh', carol, 1000)));
    const [rejoinBig, rejoinSmall, joinBig, joinSmall] = [await rejoin('big'), await rejoin('small'), await join('big'), await join('small')];
    expect(rejoinBig).toEqual(rejoinSmall);
    expect(joinBig).toEqual(joinSmall);
    // Re-join: the script (our liveness in the room, HEXISTS) and one read of the per-user hash for room.joined.
    expect(rejoinBig).toEqual(['evalsha {room:<id>}', 'lua:hset {room:<id>}:nodes', 'lua:pexpire {room:<id>}:nodes', 'lua:hexists {room:<id>}', 'hgetall {room:<id>}:users']);
    for (const commands of [rejoinBig, joinBig]) {
      expect(commands.filter((c) => c === 'lua:hgetall {room:<id>}' || c === 'lua:hget {room:<id>}:nodes')).toEqual([]);
    }
    console.log(`R3 commands per re-join (${kind}): ${rejoinBig.length} (${rejoinBig.join(', ')}); per join: ${joinBig.length}`);
  });

  test("a dead node's liveness lives beside each room (one slot per room): no key outside the room's tag, none without a TTL", async () => {
    const a = node('nk1');
    await a.join('tagged', 'c1', alice, 10);
    const keys = (await keysOf(connA)).filter((k) => k.includes('tagged'));
    expect(keys).toEqual([`${connA.prefix}{room:tagged}`, `${connA.prefix}{room:tagged}:nodes`, `${connA.prefix}{room:tagged}:users`]);
    for (const key of keys) expect(await connA.command.pttl(key)).toBeGreaterThan(0);
    expect(await connA.command.hget(`${connA.prefix}{room:tagged}:nodes`, 'nk1')).toMatch(/^\d+$/);
  });
});
